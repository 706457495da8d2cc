/**
 * What the public listener does about slow and greedy clients, below the
 * request path: connections per peer address (refused as they are accepted),
 * request headers that come too slowly (Node's headersTimeout, answered here),
 * and bodies that come too slowly (the body watchdog). Each is counted in a
 * metric and audited as an anonymous event the flood guard aggregates.
 * docs/reliability.md, "Slow clients", has the reasoning and the figures.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { Server as TlsServer, type TLSSocket } from 'node:tls';
import { Gauge, type Registry } from 'prom-client';
import type { AuditLog } from '../audit/audit-log.ts';
import type { BodyLimitSettings } from '../config/body-limits-schema.ts';
import type { LimitSettings } from '../config/limits-schema.ts';
import { GatehouseError } from '../errors/index.ts';
import { rawHttpResponse } from '../errors/render-raw.ts';
import { sendError, userErrorBody } from '../errors/render-user.ts';
import { BODY_CUT_CLOSE_MS, CONNECTION_CAP_RETRY_AFTER_SECONDS, SERVER_CONNECTIONS_CHECK_INTERVAL_MS } from '../limits.ts';
import { CounterCells } from '../metrics/counter-cells.ts';
import { auditContext } from '../request/audit-context.ts';
import { BodyWatchdog, type BodyCutReason } from './body-watchdog.ts';
import { ConnectionCaps } from './connection-caps.ts';

/** Why a request was cut for slowness: the audit reason and the metric's label. */
export type TimedOutReason = 'handshake' | 'headers' | BodyCutReason;

export interface SlowClientGuardOptions {
  readonly audit: AuditLog;
  /** Where its metrics go (the gateway's registry). */
  readonly registry?: Registry | undefined;
  /** The bounds of the configuration new connections and requests are served with (reloads apply). */
  readonly limits: () => Pick<LimitSettings, 'body' | 'connections'>;
  /** For tests: the watchdog's clock and tick. */
  readonly bodyWatch?: { readonly now?: () => number; readonly tickMs?: number };
}

/** A refused connection's whole answer, written before any byte of the request is read. */
const TOO_MANY_CONNECTIONS = rawHttpResponse(503, 'Service Unavailable', [`Retry-After: ${CONNECTION_CAP_RETRY_AFTER_SECONDS}`, 'Cache-Control: no-store']);

export class SlowClientGuard {
  readonly connections = new ConnectionCaps();
  readonly bodies: BodyWatchdog;
  readonly #options: SlowClientGuardOptions;
  readonly #refused: CounterCells | undefined;
  readonly #timedOut: CounterCells | undefined;
  /** The deadline of each TLS connection's handshake, by peer address and port (one live TCP connection each). */
  readonly #handshakes = new Map<string, NodeJS.Timeout>();

  constructor(options: SlowClientGuardOptions) {
    this.#options = options;
    this.bodies = new BodyWatchdog({ ...options.bodyWatch, onSlow: (req, res, reason, settings) => this.#cutBody(req, res, reason, settings) });
    const { registry } = options;
    if (!registry) return;
    this.#refused = new CounterCells(registry, {
      name: 'gatehouse_connections_refused_total',
      help: 'Connections refused on the public listener as they were accepted, by limit (limits.connections).',
      labelNames: ['limit'],
    });
    this.#timedOut = new CounterCells(registry, {
      name: 'gatehouse_requests_timed_out_total',
      help: 'Requests cut for coming too slowly (408), by reason: handshake, headers (server.headersTimeout), body_rate, body_timeout (limits.body).',
      labelNames: ['reason'],
    });
    const caps = this.connections;
    const bodies = this.bodies;
    new Gauge({
      name: 'gatehouse_client_connections',
      help: 'Connections open on the public listener, as this instance counts them for limits.connections.',
      registers: [registry],
      collect() {
        this.set(caps.size);
      },
    });
    new Gauge({
      name: 'gatehouse_request_bodies_watched',
      help: 'Request bodies being received and held to limits.body.',
      registers: [registry],
      collect() {
        this.set(bodies.size);
      },
    });
  }

  /**
   * Listens on `server`: its connections counted and capped (before Node's own listener sees them), every request's
   * body watched, and Node's check for late headers run every SERVER_CONNECTIONS_CHECK_INTERVAL_MS. Returns the undo.
   */
  attach(server: HttpServer | HttpsServer): () => void {
    const tls = server instanceof TlsServer;
    const onConnection = (socket: Socket): void => {
      if (this.#admit(socket, tls) && tls) this.#awaitHandshake(socket, server.headersTimeout);
    };
    const onSecure = (secure: TLSSocket): void => {
      const key = peerKey(secure);
      clearTimeout(this.#handshakes.get(key));
      this.#handshakes.delete(key);
    };
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => this.bodies.watch(req, res, this.#options.limits().body);
    server.prependListener('connection', onConnection);
    server.on('secureConnection', onSecure);
    server.on('request', onRequest);
    checkHeadersEvery(server, SERVER_CONNECTIONS_CHECK_INTERVAL_MS);
    return () => {
      server.off('connection', onConnection);
      server.off('secureConnection', onSecure);
      server.off('request', onRequest);
    };
  }

  /** A request whose headers did not arrive within headersTimeout (Node's check found it): 408, and the connection closes. */
  headersTimedOut(socket: Socket): void {
    const error = new GatehouseError('ERR_REQUEST_TIMEOUT', 'headers');
    this.#timedOut?.inc('headers');
    this.#options.audit.emit({ type: 'request.timed_out', outcome: 'failure', code: error.code, reason: error.reason, clientIp: socket.remoteAddress });
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const body = JSON.stringify(userErrorBody(error, { requestId: 'unknown' }));
    socket.end(rawHttpResponse(408, 'Request Timeout', ['Content-Type: application/json; charset=utf-8', 'Cache-Control: no-store'], body), () =>
      socket.destroy(),
    );
  }

  close(): void {
    this.bodies.close();
  }

  /**
   * Node times a request's headers from its first byte, which over TLS comes after the handshake; the handshake itself
   * has its own idle timeout of 120 s. A connection that never completes it is closed at the headers' bound instead.
   */
  #awaitHandshake(socket: Socket, timeoutMs: number): void {
    if (!(timeoutMs > 0)) return;
    const timer = setTimeout(() => {
      this.#timedOut?.inc('handshake');
      this.#options.audit.emit({
        type: 'request.timed_out',
        outcome: 'failure',
        code: 'ERR_REQUEST_TIMEOUT',
        reason: 'handshake',
        clientIp: socket.remoteAddress,
      });
      socket.destroy();
    }, timeoutMs);
    timer.unref();
    const key = peerKey(socket);
    this.#handshakes.set(key, timer);
    socket.once('close', () => {
      clearTimeout(timer);
      if (this.#handshakes.get(key) === timer) this.#handshakes.delete(key);
    });
  }

  /** Counts `socket`, or refuses it and says so. */
  #admit(socket: Socket, tls: boolean): boolean {
    const { perIp } = this.#options.limits().connections;
    if (this.connections.admit(socket, perIp)) return true;
    this.#refused?.inc('per_ip');
    this.#options.audit.emit({
      type: 'connection.refused',
      outcome: 'failure',
      code: 'ERR_TOO_MANY_CONNECTIONS',
      reason: 'connections_per_ip',
      clientIp: socket.remoteAddress,
      details: { perIp },
    });
    // A TLS client cannot read plain HTTP: it is closed before the handshake it would cost.
    if (tls) socket.destroy();
    else socket.end(TOO_MANY_CONNECTIONS, () => socket.destroy());
    return false;
  }

  #cutBody(req: IncomingMessage, res: ServerResponse, reason: BodyCutReason, settings: BodyLimitSettings): void {
    const error = new GatehouseError('ERR_REQUEST_TIMEOUT', reason);
    this.#timedOut?.inc(reason);
    const context = auditContext(req);
    this.#options.audit.emit({
      type: 'request.timed_out',
      outcome: 'failure',
      code: error.code,
      reason,
      ...context,
      clientIp: context.clientIp ?? req.socket.remoteAddress,
      details: { minRate: settings.minRate, window: settings.window, grace: settings.grace, timeout: settings.timeout },
    });
    const socket = req.socket;
    // The client may read its 408 for a moment; then the connection goes, whatever it still sends.
    const timer = setTimeout(() => socket.destroy(), BODY_CUT_CLOSE_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    if (res.headersSent) {
      // An answer under way cannot be replaced: cut it.
      socket.destroy();
      return;
    }
    res.shouldKeepAlive = false;
    res.setHeader('Connection', 'close');
    sendError(req, res, error);
  }
}

/**
 * Node looks for requests with late headers every `connectionsCheckingInterval` (30 s by default), read when the
 * server starts listening: set before, it applies then; on a server already listening, Node's check is started again
 * with it. Without this, a slow sender of headers holds its connection up to headersTimeout plus the interval.
 */
function checkHeadersEvery(server: HttpServer | HttpsServer, intervalMs: number): void {
  // A server property Node documents as an option of createServer, absent from its types.
  const checked = server as (HttpServer | HttpsServer) & { connectionsCheckingInterval?: number };
  if (checked.connectionsCheckingInterval === intervalMs) return;
  checked.connectionsCheckingInterval = intervalMs;
  if (!server.listening) return;
  for (const listener of server.listeners('listening')) {
    if (listener.name === 'setupConnectionsTracking') (listener as (this: typeof server) => void).call(server);
  }
}

/** One live TCP connection: the TLS socket and the TCP socket under it have the same. */
function peerKey(socket: Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`;
}
