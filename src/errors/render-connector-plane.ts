/**
 * The connector plane's renderer: always JSON, always with the machine
 * reason. Operators and the connector CLI need to know which check failed
 * (the token's audience, its expiry, the key size), and none of it is a
 * secret. The connector reads `code` and `reason` (docs/connector-protocol.md).
 */
import type { Response } from 'express';
import type { GatehouseError } from './gatehouse-error.ts';
import { ERROR_TABLE } from './table.ts';

export interface ConnectorPlaneErrorBody {
  readonly error: { readonly code: string; readonly reason: string; readonly message: string; readonly requestId?: string };
}

/**
 * The body of a refusal on the connector plane. `detail` (a CSR's key size,
 * the admin API's parameter problem) is added only to a row that may expose it.
 */
export function connectorPlaneErrorBody(
  error: GatehouseError,
  options: { readonly detail?: string | undefined; readonly requestId?: string } = {},
): ConnectorPlaneErrorBody {
  const row = ERROR_TABLE[error.code];
  return {
    error: {
      code: error.code,
      reason: error.reason,
      message: options.detail && row.expose ? `${row.message} ${options.detail}` : row.message,
      ...(options.requestId !== undefined ? { requestId: options.requestId } : {}),
    },
  };
}

export function sendConnectorError(res: Response, error: GatehouseError, detail?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res
    .status(error.status)
    .set('Cache-Control', 'no-store')
    .json(connectorPlaneErrorBody(error, { detail, requestId: String(res.getHeader('X-Request-Id') ?? '') }));
}
