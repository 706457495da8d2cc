import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AccessControl } from '../access/access-control.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { GatehouseError } from '../errors/index.ts';
import type { Forwarder } from '../forwarding/direct-forwarder.ts';
import type { Logger } from '../logging/logger.ts';
import type { AppTable } from '../request/app-resolution.ts';
import { auditContext } from '../request/audit-context.ts';
import { createClientIpResolver } from '../request/client-ip.ts';
import { startRequest } from '../request/request-context.ts';
import { runSteps, type Step } from '../request/step.ts';
import { admittedSession } from '../session/session-gate.ts';
import type { SessionManager } from '../session/session-manager.ts';
import type { SessionSockets } from '../session/session-sockets.ts';
import { socketRecheck } from '../access/socket-recheck.ts';
import { rejectUpgrade } from '../errors/render-raw.ts';

export interface UpgradeHandlerOptions {
  /** The steps of the request path an upgrade takes, in order: the same functions requests run. */
  readonly steps: readonly Step[];
  readonly table: AppTable;
  readonly trustedProxies: readonly string[];
  readonly forwarder: Forwarder;
  /** For the checks repeated while a WebSocket stays open. */
  readonly sessions: SessionManager;
  readonly sockets: SessionSockets;
  readonly access: AccessControl;
  readonly audit: AuditLog;
  readonly logger: Logger;
  /** With `next`, upgrades for hosts that publish no app are left to the server's other listeners. */
  readonly unknownHost?: 'reject' | 'next';
  /** Told how each upgrade this handler took on ended: forwarded to the app, or refused by a step (metrics). */
  readonly onUpgrade?: (appId: string | undefined, outcome: 'forwarded' | 'refused') => void;
  /** Told of each upgrade this handler takes on, before its steps run (the access log writes its line when the socket closes). */
  readonly watch?: (req: IncomingMessage, socket: Duplex) => void;
}

/**
 * WebSocket upgrades, mounted: the upgrade runs the request path's steps, and a refusal is answered on the socket in
 * raw HTTP/1.1 (never a redirect) and audited as a refused upgrade besides whatever its step audited. An admitted
 * WebSocket is tied to its session, so logout, expiry and a policy that no longer allows it close it.
 */
export function createUpgradeHandler(options: UpgradeHandlerOptions): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const clientIp = createClientIpResolver(options.trustedProxies);
  return (req, socket, head) => {
    if (options.unknownHost === 'next' && !options.table(req)) return;
    options.watch?.(req, socket);
    socket.on('error', () => socket.destroy());
    handle(req, socket, head).catch((error: unknown) => {
      options.logger.error({ err: error }, 'upgrade failed');
      rejectUpgrade(socket, new GatehouseError('ERR_INTERNAL', 'upgrade_failed'));
    });
  };

  async function handle(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const context = startRequest(req, clientIp);
    const outcome = await runSteps(options.steps, { req, context, target: req.url ?? '/' });
    if (outcome.kind === 'error') {
      const { error } = outcome;
      options.audit.emit({ type: 'request.rejected', outcome: 'failure', code: error.code, reason: `upgrade:${error.reason}`, ...auditContext(req) });
      rejectUpgrade(socket, error, {
        requestId: context.requestId,
        signInUrl: outcome.signInUrl,
        appId: context.app?.id,
        bearerApp: context.app?.bearer !== undefined,
        retryAfterSeconds: outcome.retryAfterSeconds,
      });
      options.onUpgrade?.(context.app?.id, 'refused');
      return;
    }
    const { app, identity } = context;
    const record = admittedSession(req);
    if (app && identity) {
      // A session's socket is checked again while open: expiry, revocation, idle time and policy, as every request is.
      // One opened with an access token has no session to check again: it is closed when the token expires.
      options.sockets.track(
        identity.sessionId,
        identity.sessionExpiresAt,
        socket as Parameters<SessionSockets['track']>[2],
        record
          ? socketRecheck({ sessions: options.sessions, access: options.access, audit: options.audit, req, app, identity, record, clientIp: context.clientIp })
          : undefined,
      );
    }
    options.onUpgrade?.(app?.id, 'forwarded');
    options.forwarder.upgrade(req, socket, head);
  }
}
