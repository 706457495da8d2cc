import type { RequestHandler } from 'express';
import type { AccessControl } from '../access/access-control.ts';
import { conditionalAccessStep } from '../access/conditional-access.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { getRequestContext } from '../request/context.ts';
import { expressStep } from './express-step.ts';

/**
 * Conditional access, mounted. Allowed: on to the forwarder. Denied: a page (or JSON) saying what failed and what the
 * user can do. Fixable by signing in again: a navigation is sent to the step-up sign-in, anything else gets 401 with
 * its URL.
 */
export function conditionalAccess(access: AccessControl, audit: AuditLog): RequestHandler {
  const mounted = expressStep(conditionalAccessStep(access, audit), audit);
  return (req, res, next) => {
    // Nobody signed in, or no policy for the app: the step would let the request on, but only after a promise.
    const context = getRequestContext(req);
    if (context && (!context.app || !context.identity || !access.hasPolicies(context.app))) {
      next();
      return;
    }
    return mounted(req, res, next);
  };
}
