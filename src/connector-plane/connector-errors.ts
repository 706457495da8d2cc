/**
 * The connector listener's last middleware: whatever a route threw becomes
 * the connector plane's coded JSON (a body too large, a malformed body, or an
 * internal error, logged).
 */
import type { ErrorRequestHandler } from 'express';
import { GatehouseError } from '../errors/gatehouse-error.ts';
import { sendConnectorError } from '../errors/render-connector-plane.ts';
import type { Logger } from '../logging/logger.ts';

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
