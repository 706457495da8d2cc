import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '../errors/index.ts';
import { requestTargetProblem } from './request-target.ts';
import { MAX_COOKIE_HEADER_BYTES } from '../limits.ts';
import { setRequestContext, type RequestContext } from './context.ts';
import { CONTINUE, type Step } from './step.ts';

/**
 * Gives the request an ID and a client address. Ours replaces any X-Request-Id the client sent, early, so every later
 * step (the tunnel agent included) sees it.
 */
export function startRequest(req: IncomingMessage, clientIp: (req: IncomingMessage) => string): RequestContext {
  const context: RequestContext = { requestId: randomUUID(), clientIp: clientIp(req), userAgent: req.headers['user-agent'] };
  setRequestContext(req, context);
  req.headers['x-request-id'] = context.requestId;
  return context;
}

/**
 * Step 2's checks: refuses requests we will not route (absolute-form targets, several Host headers, oversized
 * cookies) before anything else looks at them.
 */
export const requestChecks: Step = ({ req }) => {
  const refusal = refuse(req);
  return refusal ? { kind: 'error', error: refusal, rejectsRequest: true } : CONTINUE;
};

/** Why a request cannot be routed as received, or `undefined`. */
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
