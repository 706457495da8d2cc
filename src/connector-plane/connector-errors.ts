import type { ErrorRequestHandler, Response } from 'express';
import { ERROR_TABLE, GatehouseError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';

/**
 * Errors on the connector plane are always JSON and carry the machine reason:
 * operators and the connector CLI need to know which check failed (the
 * token's audience, its expiry, the key size), and none of it is a secret.
 */
export function sendConnectorError(res: Response, error: GatehouseError, detail?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const description = ERROR_TABLE[error.code];
  res
    .status(error.status)
    .set('Cache-Control', 'no-store')
    .json({
      error: {
        code: error.code,
        reason: error.reason,
        message: detail ? `${description.message} ${detail}` : description.message,
        requestId: String(res.getHeader('X-Request-Id') ?? ''),
      },
    });
}

export function connectorErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    if (error instanceof GatehouseError) {
      sendConnectorError(res, error);
      return;
    }
    const status = (error as { status?: unknown; type?: unknown }).status;
    if (status === 413) {
      sendConnectorError(res, new GatehouseError('ERR_PAYLOAD_TOO_LARGE', 'body_too_large'));
      return;
    }
    if (typeof status === 'number' && status >= 400 && status < 500) {
      sendConnectorError(res, new GatehouseError('ERR_BAD_REQUEST', 'malformed_body'));
      return;
    }
    logger.error({ err: error }, 'connector plane: unhandled error');
    sendConnectorError(res, new GatehouseError('ERR_INTERNAL', 'unhandled'));
  };
}
