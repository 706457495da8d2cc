import type { IncomingMessage } from 'node:http';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AppConfig } from '../config/parse.ts';
import { GatehouseError } from '../errors/index.ts';
import { SESSION_REFRESH_RETRY_SECONDS } from '../limits.ts';
import { CONTINUE, type Step, type StepInput, type StepOutcome } from '../request/step.ts';
import { signInUrl } from '../signin/signin-url.ts';
import type { RefreshAuditContext, SessionCheck, SessionFailure, SessionManager } from './session-manager.ts';
import type { SessionRecord } from './session-record.ts';

export interface SessionGateOptions {
  readonly sessions: SessionManager;
  readonly audit: AuditLog;
}

const FAILURE_CODE: Readonly<Record<SessionFailure, GatehouseError['code']>> = {
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

/** The session record each request was admitted with, for what outlives the request (an open WebSocket). */
const ADMITTED = Symbol('gatehouse.admittedSession');

type Admitted = IncomingMessage & { [ADMITTED]?: SessionRecord };

export function admittedSession(req: IncomingMessage): SessionRecord | undefined {
  return (req as Admitted)[ADMITTED];
}

/**
 * A session read (or read again, for an open WebSocket) with its ID token
 * refreshed when due (session.refresh): the one path both take. Throws a
 * retryable GatehouseError (503) when the ID token has expired and a
 * failure that may pass kept it from being refreshed.
 */
export function settleRefresh(sessions: SessionManager, check: SessionCheck, app: AppConfig, context: RefreshAuditContext): Promise<SessionCheck> {
  const refresher = sessions.refresher;
  if (!refresher || !check.refresh || !check.record) return Promise.resolve(check);
  return refresher.settle({ ...check, record: check.record }, app, context);
}

/**
 * Step 5, the session gate: a valid, unexpired, app-bound sealed session puts the identity on the request. Anything else is
 * no session, to be fixed by signing in; a session that was there but failed is audited, in the same words for a
 * request and a WebSocket upgrade, and its cookie cleared. Pass-through apps skip the gate.
 */
export function sessionGateStep(options: SessionGateOptions): Step {
  const gate = gateFor(options);
  return (input) => {
    const app = input.context.app;
    // An access token proved who is calling (the bearer step, before this one): no cookie is looked for. Answered
    // without a promise: pass-through requests take this way on every request.
    if (!app || app.preauth === 'passthrough' || input.context.identity?.via === 'bearer') return CONTINUE;
    return gate(input, app);
  };
}

function gateFor(options: SessionGateOptions): (input: StepInput, app: AppConfig) => Promise<StepOutcome> {
  return async ({ req, context, target }, app) => {
    let check = await options.sessions.read(req, app);
    // session.refresh: a session whose ID token is due (or past due) is refreshed here, never by a redirect.
    if (options.sessions.refresher && check.refresh && check.record) {
      try {
        check = await settleRefresh(options.sessions, check, app, { clientIp: context.clientIp, userAgent: context.userAgent, requestId: context.requestId });
      } catch (error) {
        // A refresh that may work in a moment: the session is not ended and its cookie stays.
        if (error instanceof GatehouseError && error.status === 503) return { kind: 'error', error, retryAfterSeconds: SESSION_REFRESH_RETRY_SECONDS };
        throw error;
      }
    }
    if (check.ok) {
      context.identity = check.identity;
      (req as Admitted)[ADMITTED] = check.record;
      return check.refreshCookie ? { kind: 'continue', setCookies: [check.refreshCookie] } : CONTINUE;
    }

    const code = FAILURE_CODE[check.reason];
    const refusal = { kind: 'error', error: new GatehouseError(code, check.reason), signInUrl: signInUrl(app, target) } as const;
    if (check.reason === 'missing') return refusal;
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
    return { ...refusal, setCookies: [options.sessions.clearCookie(app)] };
  };
}
