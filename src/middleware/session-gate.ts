import type { RequestHandler } from 'express';
import type { AuditLog } from '../audit/audit-log.ts';
import { GatehouseError, type GatehouseErrorCode } from '../errors.ts';
import { appendSetCookie } from '../session/cookies.ts';
import type { SessionFailure, SessionManager } from '../session/session-manager.ts';
import { getRequestContext } from '../request/context.ts';
import { sendError } from './error-response.ts';
import { signInUrl } from '../signin/signin-url.ts';
import { redirectNavigation } from '../signin/redirect.ts';
import { wantsRedirect } from '../request/wants-redirect.ts';

export interface SessionGateOptions {
  readonly sessions: SessionManager;
  readonly audit: AuditLog;
}

const FAILURE_CODE: Readonly<Record<SessionFailure, GatehouseErrorCode>> = {
  missing: 'ERR_SESSION_REQUIRED',
  expired: 'ERR_SESSION_EXPIRED',
  idle: 'ERR_SESSION_EXPIRED',
  revoked: 'ERR_SESSION_REVOKED',
  tampered: 'ERR_SESSION_INVALID',
  malformed: 'ERR_SESSION_INVALID',
  unknown_key: 'ERR_SESSION_INVALID',
  other_app: 'ERR_SESSION_INVALID',
  claims_unavailable: 'ERR_SESSION_INVALID',
};

/**
 * Step 3: a valid, unexpired, app-bound sealed session puts the identity on
 * the request. Anything else is no session: browsers navigating are sent to
 * sign in, everything else gets 401 with JSON.
 */
export function sessionGate(options: SessionGateOptions): RequestHandler {
  return async (req, res, next) => {
    const context = getRequestContext(req);
    const app = context?.app;
    if (!context || !app || app.preauth === 'passthrough') {
      next();
      return;
    }
    const check = await options.sessions.read(req, app);
    if (check.ok) {
      context.identity = check.identity;
      if (check.refreshCookie) appendSetCookie(res, check.refreshCookie);
      next();
      return;
    }

    const code = FAILURE_CODE[check.reason];
    if (check.reason !== 'missing') {
      const expired = check.reason === 'expired' || check.reason === 'idle';
      options.audit.emit({
        type: expired ? 'session.expired' : 'session.rejected',
        outcome: 'failure',
        code,
        reason: check.reason,
        // Only a record we sealed ourselves names a user; a forged one names nobody.
        user: check.record ? { sub: check.record.sub, name: check.record.name, email: check.record.email } : undefined,
        app: app.id,
        clientIp: context.clientIp,
        userAgent: context.userAgent,
        requestId: context.requestId,
      });
      appendSetCookie(res, options.sessions.clearCookie(app));
    }

    const target = signInUrl(app, req.originalUrl);
    if (wantsRedirect(req)) {
      redirectNavigation(res, target);
      return;
    }
    // Not a navigation: API clients, XHR and form posts get JSON they can act on.
    sendError(req, res, new GatehouseError(code, check.reason), { signInUrl: target, format: 'json' });
  };
}
