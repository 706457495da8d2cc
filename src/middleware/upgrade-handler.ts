import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AuditLog } from '../audit/audit-log.ts';
import { GatehouseError, type GatehouseErrorCode } from '../errors.ts';
import { isReservedPath } from '../request/request-target.ts';
import type { Logger } from '../logging/logger.ts';
import type { SessionManager } from '../session/session-manager.ts';
import type { SessionSockets } from '../session/session-sockets.ts';
import { socketRecheck } from '../session/socket-recheck.ts';
import type { AppTable } from '../request/app-resolution.ts';
import { auditContext } from '../request/audit-context.ts';
import { createClientIpResolver } from '../request/client-ip.ts';
import { setRequestContext } from '../request/context.ts';
import type { AccessControl } from '../access/access-control.ts';
import { requestPath } from '../access/facts.ts';
import type { Forwarder } from '../forwarding/direct-forwarder.ts';
import type { IdentityAssertions } from '../forwarding/identity-assertion.ts';
import { rejectUpgrade } from './reject-upgrade.ts';
import { refuse } from '../request/request-context.ts';
import { signInUrl } from '../signin/signin-url.ts';
import { externalUrlOf } from '../config/external-url.ts';

export interface UpgradeHandlerOptions {
  readonly table: AppTable;
  readonly trustedProxies: readonly string[];
  readonly sessions: SessionManager;
  readonly sockets: SessionSockets;
  readonly assertions: IdentityAssertions;
  readonly forwarder: Forwarder;
  readonly access: AccessControl;
  readonly audit: AuditLog;
  readonly logger: Logger;
  /** With `next`, upgrades for hosts that publish no app are left to the server's other listeners. */
  readonly unknownHost?: 'reject' | 'next';
}

/**
 * WebSocket upgrades go through the same steps as requests: request checks, app resolution, the session gate (401, never a
 * redirect), an Origin check against the app, then forwarding. The upgraded
 * connection is tied to its session, so logout and expiry close it.
 */
export function createUpgradeHandler(options: UpgradeHandlerOptions): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const clientIp = createClientIpResolver(options.trustedProxies);
  return (req, socket, head) => {
    if (options.unknownHost === 'next' && !options.table(req)) return;
    socket.on('error', () => socket.destroy());
    handle(req, socket, head).catch((error: unknown) => {
      options.logger.error({ err: error }, 'upgrade failed');
      rejectUpgrade(socket, new GatehouseError('ERR_INTERNAL', 'upgrade_failed'));
    });
  };

  async function handle(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const requestId = randomUUID();
    const context: Parameters<typeof setRequestContext>[1] = { requestId, clientIp: clientIp(req), userAgent: req.headers['user-agent'] };
    setRequestContext(req, context);
    req.headers['x-request-id'] = requestId;
    const fail = (error: GatehouseError, signIn?: string): void => {
      options.audit.emit({ type: 'request.rejected', outcome: 'failure', code: error.code, reason: `upgrade:${error.reason}`, ...auditContext(req) });
      rejectUpgrade(socket, error, requestId, signIn);
    };

    const refusal = refuse(req);
    if (refusal) return fail(refusal);
    const app = options.table(req);
    if (!app) return fail(new GatehouseError('ERR_UNKNOWN_HOST', 'unknown_host'));
    context.app = app;
    // Only WebSocket upgrades are forwarded; Gatehouse's own paths never are, on any app.
    if (req.method !== 'GET' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      return fail(new GatehouseError('ERR_BAD_REQUEST', 'upgrade_not_websocket'));
    }
    if (isReservedPath(req.url ?? '/')) return fail(new GatehouseError('ERR_NOT_FOUND', 'reserved_path'));
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== externalUrlOf(app).origin) {
      return fail(new GatehouseError('ERR_ORIGIN_REFUSED', 'cross_origin_websocket'));
    }
    if (app.preauth === 'oidc') {
      const check = await options.sessions.read(req, app);
      if (!check.ok) {
        const code: GatehouseErrorCode =
          check.reason === 'missing'
            ? 'ERR_SESSION_REQUIRED'
            : check.reason === 'expired' || check.reason === 'idle'
              ? 'ERR_SESSION_EXPIRED'
              : check.reason === 'revoked'
                ? 'ERR_SESSION_REVOKED'
                : 'ERR_SESSION_INVALID';
        return fail(new GatehouseError(code, check.reason), signInUrl(app, req.url ?? '/'));
      }
      context.identity = check.identity;
      const decision = await options.access.decide(req, app, check.identity, requestPath(req.url ?? '/'), context.clientIp, 'request');
      if (decision?.effect === 'deny') return fail(new GatehouseError('ERR_POLICY_DENIED', 'policy'));
      if (decision?.effect === 'step-up')
        return fail(new GatehouseError('ERR_STEP_UP_REQUIRED', decision.stepUp?.reason ?? 'step_up'), signInUrl(app, req.url ?? '/'));
      context.assertion = await options.assertions.assertionFor(check.identity, app);
      // Checked again while open: expiry, revocation, idle time and policy, as every request is.
      options.sockets.track(
        check.identity.sessionId,
        check.identity.sessionExpiresAt,
        socket as Parameters<SessionSockets['track']>[2],
        socketRecheck({
          sessions: options.sessions,
          access: options.access,
          audit: options.audit,
          req,
          app,
          identity: check.identity,
          record: check.record,
          clientIp: context.clientIp,
        }),
      );
    }
    options.forwarder.upgrade(req, socket, head);
  }
}
