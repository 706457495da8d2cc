import type { IncomingMessage } from 'node:http';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AppConfig } from '../config/parse.ts';
import type { AccessControl } from './access-control.ts';
import { requestPath } from './facts.ts';
import { auditContext } from '../request/audit-context.ts';
import type { Identity } from '../session/identity.ts';
import type { SessionManager } from '../session/session-manager.ts';
import { settleRefresh } from '../session/session-gate.ts';
import type { SessionRecord } from '../session/session-record.ts';
import type { SocketRecheck } from '../session/session-sockets.ts';

export interface SocketRecheckInput {
  readonly sessions: SessionManager;
  readonly access: AccessControl;
  readonly audit: AuditLog;
  /** The upgrade request: its path, headers and request context are what the policy judged then. */
  readonly req: IncomingMessage;
  readonly app: AppConfig;
  readonly identity: Identity;
  /** The session record the upgrade was admitted with. */
  readonly record: SessionRecord;
  readonly clientIp: string;
}

/**
 * What an open WebSocket is checked against every recheck interval: its
 * session still holds (not expired, not revoked — on any instance — and not
 * idle since the last request), and the app's policies still allow it (risk
 * and the age of the sign-in change while a socket stays open). A refreshable
 * session's ID token is refreshed here when due, through the same refresher
 * path requests take, and policy judges the refreshed claims; a refresh the
 * provider refuses ends the session and closes the socket. A refusal is
 * audited here, with the upgrade's request id, and closes the socket.
 */
export function socketRecheck(input: SocketRecheckInput): SocketRecheck {
  const { sessions, access, audit, req, app, identity, record, clientIp } = input;
  const user = { sub: identity.sub, name: identity.name, email: identity.email };
  const path = requestPath(req.url ?? '/');
  return async () => {
    const { userAgent, requestId } = auditContext(req);
    // Throws (closing the socket) when the ID token has expired and could not be refreshed for now.
    const check = await settleRefresh(sessions, await sessions.recheck(record, app, identity), app, { clientIp, userAgent, requestId });
    if (!check.ok) {
      const failure = check.reason;
      const expired = failure === 'expired' || failure === 'idle';
      audit.emit({
        type: expired ? 'session.expired' : 'session.rejected',
        outcome: 'failure',
        code: expired ? 'ERR_SESSION_EXPIRED' : 'ERR_SESSION_REVOKED',
        reason: failure,
        user,
        details: { at: 'websocket', sessionId: record.sid },
        ...auditContext(req),
      });
      return false;
    }
    const decision = await access.decide(req, app, check.identity, path, clientIp, 'websocket');
    if (decision === undefined || decision.effect === 'allow') return true;
    audit.emit({
      type: 'access.denied',
      outcome: 'failure',
      code: decision.effect === 'deny' ? 'ERR_POLICY_DENIED' : 'ERR_STEP_UP_REQUIRED',
      reason: decision.failed.map((outcome) => `${outcome.policy}:${outcome.reason}`).join(' '),
      user,
      details: { at: 'websocket', sessionId: record.sid },
      ...auditContext(req),
    });
    return false;
  };
}
