import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AuditLog } from '../audit/audit-log.ts';
import type { GatewayConfig } from '../config/parse.ts';
import type { SlowClientGuard } from '../edge/slow-clients.ts';
import { GatehouseError } from '../errors/index.ts';
import { rejectUnparsed } from '../errors/render-raw.ts';
import { SERVER_HEADERS_TIMEOUT_MS, SERVER_KEEP_ALIVE_TIMEOUT_MS, SERVER_REQUEST_TIMEOUT_MS } from '../limits.ts';

/**
 * 'close' listeners an upgraded connection may carry. Every part that holds
 * something for a WebSocket lets go of it when its socket closes: the
 * going-away list, the reload generation's count, the access log, the
 * connection and WebSocket caps, the idle timer, the session's sockets, the
 * splice and its pipe, the lingering close, besides Node's own two. That is a
 * dozen, each gone with the socket, and Node's default of 10 would report
 * them as a leak in the gateway's log.
 */
export const UPGRADED_SOCKET_MAX_LISTENERS = 32;

export interface AttachServerOptions {
  readonly config: GatewayConfig;
  readonly audit: AuditLog;
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Connections per peer address, late headers and slow bodies (`limits.connections`, `limits.body`). */
  readonly slowClients?: SlowClientGuard;
}

/**
 * Sets the server's timeouts and adds the WebSocket upgrade listener (at start, not on the first request) and a
 * clientError listener that audits and answers what Node could not parse. Returns the function that removes both.
 */
export function attachServer(server: HttpServer | HttpsServer, options: AttachServerOptions): () => void {
  const { config, audit, upgrade, slowClients } = options;
  server.headersTimeout = config.server.headersTimeout !== undefined ? config.server.headersTimeout * 1000 : SERVER_HEADERS_TIMEOUT_MS;
  server.requestTimeout = SERVER_REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = config.server.keepAliveTimeout !== undefined ? config.server.keepAliveTimeout * 1000 : SERVER_KEEP_ALIVE_TIMEOUT_MS;
  const onClientError = (error: NodeJS.ErrnoException, socket: Socket): void => {
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT' && slowClients) {
      slowClients.headersTimedOut(socket);
      return;
    }
    const refusal = new GatehouseError(
      error.code === 'HPE_HEADER_OVERFLOW' ? 'ERR_HEADERS_TOO_LARGE' : 'ERR_BAD_REQUEST',
      `client_error:${error.code ?? 'unknown'}`,
    );
    audit.emit({ type: 'request.rejected', outcome: 'failure', code: refusal.code, reason: refusal.reason, clientIp: socket.remoteAddress });
    if (!socket.writable || (error.code === 'ECONNRESET' && socket.destroyed)) {
      socket.destroy();
      return;
    }
    rejectUnparsed(socket, refusal);
  };
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (socket.getMaxListeners() < UPGRADED_SOCKET_MAX_LISTENERS) socket.setMaxListeners(UPGRADED_SOCKET_MAX_LISTENERS);
    upgrade(req, socket, head);
  };
  server.on('upgrade', onUpgrade);
  server.on('clientError', onClientError);
  const detachGuard = slowClients?.attach(server);
  return () => {
    detachGuard?.();
    server.off('upgrade', onUpgrade);
    server.off('clientError', onClientError);
  };
}
