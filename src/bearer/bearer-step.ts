import type { IncomingMessage } from 'node:http';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../clock.ts';
import { GatehouseError } from '../errors/index.ts';
import { auditContext } from '../request/audit-context.ts';
import { CONTINUE, type Step, type StepOutcome } from '../request/step.ts';
import { readCookies } from '../session/cookies.ts';
import { hasGroupOverage } from '../session/group-overage.ts';
import type { SessionManager } from '../session/session-manager.ts';
import type { OidcClient } from '../signin/oidc-client.ts';
import { bearerIdentity } from './bearer-identity.ts';
import { verifyBearer } from './verify-bearer.ts';

export interface BearerStepOptions {
  /** The relying party: its discovered issuer and the provider's keys, shared with the sign-in. */
  readonly oidc: Pick<OidcClient, 'keys' | 'tokenChecks' | 'groups'>;
  /** To tell whether the request also carries a session cookie. */
  readonly sessions: Pick<SessionManager, 'settingsFor'>;
  readonly audit: AuditLog;
  readonly clock: Clock;
}

/** `Authorization: Bearer <token>` (RFC 6750 2.1: the scheme in any case); undefined for no header or another scheme. */
export function bearerCredentials(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer(?:[ \t]+(.*))?$/i.exec(header.trim());
  return match ? (match[1] ?? '').trim() : undefined;
}

/**
 * Before the session gate, on apps with `bearer`: a request with an access token is authenticated by the token alone
 * and goes on as the identity it gives (the session gate then lets it through). A token that fails a check is 401
 * (403 for a missing scope), never a sign-in redirect; a token and a session cookie together are 400, since which of
 * the two the request speaks for would be a guess. Every refusal is audited with the check that failed, never the
 * token. A request without a token is left to the session gate: a browser is still sent to sign in.
 */
export function bearerStep(options: BearerStepOptions): Step {
  return async ({ req, context }) => {
    const app = context.app;
    if (!app?.bearer || app.preauth === 'passthrough') return CONTINUE;
    const token = bearerCredentials(req);
    if (token === undefined) return CONTINUE;
    if (readCookies(req)[options.sessions.settingsFor(app).cookieName] !== undefined) {
      return refuse(req, options.audit, new GatehouseError('ERR_BEARER_WITH_COOKIE', 'cookie_and_bearer'));
    }
    try {
      const checks = await options.oidc.tokenChecks();
      const verified = await verifyBearer(token, app.bearer, {
        keys: options.oidc.keys,
        issuer: () => Promise.resolve(checks.issuer),
        clock: options.clock,
        clockToleranceSeconds: checks.clockToleranceSeconds,
      });
      // A token that left its groups out for being too many cannot be judged by group: refused, never read as no groups.
      if (hasGroupOverage(verified.claims)) throw new GatehouseError('ERR_GROUPS_OVERAGE', 'groups_overage');
      context.identity = bearerIdentity(token, verified, app, options.oidc.groups.claim);
      return CONTINUE;
    } catch (error) {
      if (!(error instanceof GatehouseError)) throw error;
      return refuse(req, options.audit, error);
    }
  };
}

function refuse(req: IncomingMessage, audit: AuditLog, error: GatehouseError): StepOutcome {
  audit.emit({ type: 'bearer.rejected', outcome: 'failure', code: error.code, reason: error.reason, ...auditContext(req) });
  return { kind: 'error', error };
}
