/**
 * The connector listener's last middleware: whatever a route threw becomes
 * the connector plane's coded JSON (a body too large, a malformed body, the
 * store unreachable, or an internal error, logged).
 */
import type { ErrorRequestHandler } from 'express';
import { GatehouseError } from '../errors/gatehouse-error.ts';
import { sendConnectorError } from '../errors/render-connector-plane.ts';
import type { Logger } from '../logging/logger.ts';
import { StoreError } from '../store/store-error.ts';

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
    // The shared store (Redis) not answering is an outage, not a bug: 503, and the caller retries.
    if (error instanceof StoreError && error.code === 'ERR_STORE_UNUSABLE') {
      logger.warn({ err: error }, 'connector plane: the store did not answer');
      sendConnectorError(res, new GatehouseError('ERR_STORE_UNAVAILABLE', 'store_unreachable'));
      return;
    }
    logger.error({ err: error }, 'connector plane: unhandled error');
    sendConnectorError(res, new GatehouseError('ERR_INTERNAL', 'unhandled'));
  };
}
