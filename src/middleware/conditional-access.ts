import type { RequestHandler } from 'express';
import { GatehouseError } from '../errors.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AccessControl } from '../access/access-control.ts';
import { explain } from '../access/explanation.ts';
import { requestPath } from '../access/facts.ts';
import { auditContext } from '../request/audit-context.ts';
import { getRequestContext } from '../request/context.ts';
import { sendError } from './error-response.ts';
import { signInUrl } from '../signin/signin-url.ts';
import { redirectNavigation } from '../signin/redirect.ts';
import { wantsRedirect } from '../request/wants-redirect.ts';

/**
 * Step 5 on every request, for what can change between requests: the client
 * address, risk, the age of the sign-in, the path. Allowed: on to the
 * forwarder. Denied: a page (or JSON) saying what failed and what the user can
 * do. Fixable by signing in again (MFA, sign-in frequency): a navigation is
 * sent to the step-up sign-in, anything else gets 401 with its URL.
 */
export function conditionalAccess(access: AccessControl, audit: AuditLog): RequestHandler {
  return async (req, res, next) => {
    const context = getRequestContext(req);
    const app = context?.app;
    const identity = context?.identity;
    if (!context || !app || !identity || !access.hasPolicies(app)) {
      next();
      return;
    }
    const path = requestPath(req.originalUrl);
    const decision = await access.decide(req, app, identity, path, context.clientIp, 'request');
    if (!decision || decision.effect === 'allow') {
      next();
      return;
    }
    const explanation = explain(decision);
    if (decision.effect === 'step-up' && decision.stepUp) {
      const target = `${signInUrl(app, req.originalUrl)}&stepup=${decision.stepUp.reason}`;
      if (wantsRedirect(req)) {
        redirectNavigation(res, target);
        return;
      }
      sendError(req, res, new GatehouseError('ERR_STEP_UP_REQUIRED', decision.stepUp.reason), {
        signInUrl: target,
        details: explanation.details,
        format: 'json',
      });
      return;
    }
    audit.emit({
      type: 'access.denied',
      outcome: 'failure',
      code: 'ERR_POLICY_DENIED',
      reason: decision.failed.map((outcome) => `${outcome.policy}:${outcome.reason}`).join(' '),
      user: { sub: identity.sub, name: identity.name, email: identity.email },
      ...auditContext(req),
    });
    sendError(req, res, new GatehouseError('ERR_POLICY_DENIED', 'policy'), { details: explanation.details });
  };
}
