import type { ErrorRequestHandler } from 'express';
import { GatehouseError } from '../errors/index.ts';
import type { Logger } from '../logging/logger.ts';
import { getRequestContext } from '../request/context.ts';
import { sendError } from '../errors/render-user.ts';

/**
 * The last middleware: whatever was thrown becomes a coded error page. The
 * stack goes to the log, never to the client, whatever NODE_ENV says.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (!getRequestContext(req)) {
      next(error);
      return;
    }
    if (error instanceof GatehouseError) {
      if (error.status >= 500) logger.warn({ code: error.code, reason: error.reason, requestId: getRequestContext(req)?.requestId }, error.message);
      sendError(req, res, error);
      return;
    }
    // Express marks client mistakes it detected itself (e.g. bad URL encoding) with a 4xx status.
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      sendError(req, res, new GatehouseError('ERR_BAD_REQUEST', 'malformed_request'));
      return;
    }
    logger.error({ err: error, requestId: getRequestContext(req)?.requestId }, 'unhandled error');
    sendError(req, res, new GatehouseError('ERR_INTERNAL', 'unhandled'));
  };
}
