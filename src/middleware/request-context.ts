import type { RequestHandler } from 'express';
import type { AuditLog } from '../audit/audit-log.ts';
import { createClientIpResolver } from '../request/client-ip.ts';
import { getRequestContext } from '../request/context.ts';
import { requestChecks, startRequest } from '../request/request-context.ts';
import { expressStep } from './express-step.ts';

export interface RequestContextOptions {
  readonly trustedProxies?: readonly string[];
  readonly audit: AuditLog;
}

/**
 * The first step after the robots denier: gives the request an ID (also in the answer's X-Request-Id) and a client
 * address, then runs the request checks. A request that already has a context passes untouched.
 */
export function requestContext(options: RequestContextOptions): RequestHandler {
  const clientIp = createClientIpResolver(options.trustedProxies ?? []);
  const checks = expressStep(requestChecks, options.audit);
  return (req, res, next) => {
    if (getRequestContext(req)) {
      next();
      return;
    }
    res.setHeader('X-Request-Id', startRequest(req, clientIp).requestId);
    return checks(req, res, next);
  };
}
