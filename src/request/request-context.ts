import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import type { AuditLog } from '../audit/audit-log.ts';
import { GatehouseError } from '../errors.ts';
import { requestTargetProblem } from './request-target.ts';
import { MAX_COOKIE_HEADER_BYTES } from '../limits.ts';
import { createClientIpResolver } from './client-ip.ts';
import { getRequestContext, setRequestContext } from './context.ts';
import { sendError } from '../middleware/error-response.ts';

export interface RequestContextOptions {
  readonly trustedProxies?: readonly string[];
  readonly audit: AuditLog;
}

/**
 * The first middleware: gives the request an ID and a client address, and
 * refuses requests we will not route (absolute-form targets, several Host
 * headers, oversized cookies) before anything else looks at them.
 */
export function requestContext(options: RequestContextOptions): RequestHandler {
  const clientIp = createClientIpResolver(options.trustedProxies ?? []);
  return (req, res, next) => {
    if (getRequestContext(req)) {
      next();
      return;
    }
    const requestId = randomUUID();
    const userAgent = req.headers['user-agent'];
    const context = { requestId, clientIp: clientIp(req), userAgent };
    setRequestContext(req, context);
    res.setHeader('X-Request-Id', requestId);
    // Ours replaces any the client sent, early, so every later step (the tunnel agent included) sees it.
    req.headers['x-request-id'] = requestId;

    const refusal = refuse(req);
    if (refusal) {
      options.audit.emit({
        type: 'request.rejected',
        outcome: 'failure',
        code: refusal.code,
        reason: refusal.reason,
        clientIp: context.clientIp,
        userAgent,
        requestId,
      });
      sendError(req, res, refusal);
      return;
    }
    next();
  };
}

/** The checks every request passes before routing, shared with the upgrade path. */
export function refuse(req: IncomingMessage): GatehouseError | undefined {
  // Route on the request line actually received: only origin-form targets.
  if (!req.url?.startsWith('/')) {
    return new GatehouseError('ERR_BAD_REQUEST', 'request_target_not_origin_form');
  }
  // The path every later step checks must be the path the backend serves.
  const targetProblem = requestTargetProblem(req.url);
  if (targetProblem) return new GatehouseError('ERR_BAD_REQUEST', targetProblem);
  let hosts = 0;
  let cookieBytes = 0;
  const raw = req.rawHeaders;
  for (let index = 0; index < raw.length; index += 2) {
    const name = (raw[index] ?? '').toLowerCase();
    if (name === 'host') hosts += 1;
    else if (name === 'cookie') cookieBytes += (raw[index + 1] ?? '').length;
  }
  if (hosts !== 1) return new GatehouseError('ERR_BAD_REQUEST', hosts === 0 ? 'missing_host' : 'duplicate_host');
  if (cookieBytes > MAX_COOKIE_HEADER_BYTES) return new GatehouseError('ERR_HEADERS_TOO_LARGE', 'cookie_header_too_large');
  return undefined;
}
