/**
 * Graceful shutdown of a server that carries a gateway: stop accepting,
 * let what is in flight finish up to a deadline, then cut what is left and
 * release the gateway. `gateway.attach(server)` starts following the
 * server's requests and WebSockets, so that a shutdown knows what it waits for.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { InFlight } from './in-flight.ts';
import { GoingAwaySockets } from './websocket-going-away.ts';

type AnyServer = HttpServer | HttpsServer;

/** What `shutdown()` found in flight when it began, and what it had to cut at the deadline. */
export interface ShutdownReport {
  readonly requests: number;
  readonly webSockets: number;
  /** Requests and WebSockets still open at the deadline, cut. */
  readonly cut: number;
}

/** How `shutdown()` (and `GatewayServer.close()`) waits, and what it reports while it does. */
export interface ShutdownOptions {
  /** How long in-flight requests and WebSockets get. Default: the gateway's `server.shutdownTimeout` (30 s). */
  readonly timeoutMs?: number;
  /** Called once the server stopped accepting, with what is in flight (e.g. to print progress). */
  readonly onStart?: (inFlight: { readonly requests: number; readonly webSockets: number; readonly timeoutMs: number }) => void;
  /** Called at the deadline with how many requests and WebSockets are cut. */
  readonly onDeadline?: (cut: number) => void;
}

/** The part of a gateway a shutdown needs. */
export interface ShutdownTarget {
  readonly config: { readonly server: { readonly shutdownTimeout: number } };
  /** Told first: from then on readiness says "not ready", so load balancers stop sending. */
  drain?(): void;
  close(): Promise<void>;
}

/** Requests and upgraded connections of one server, followed from `attach()` on. */
class ServerTraffic {
  readonly requests = new InFlight<ServerResponse>();
  readonly webSockets = new GoingAwaySockets();
  draining = false;
  #idle: (() => void) | undefined;

  readonly onRequest = (_req: IncomingMessage, res: ServerResponse): void => {
    // A request that arrives while draining (on a kept-alive connection) is served, and its connection closed after it.
    if (this.draining) closeAfter(res);
    const remove = this.requests.add(res);
    res.once('close', () => {
      remove();
      this.#idle?.();
    });
  };

  readonly onUpgrade = (_req: IncomingMessage, socket: Duplex): void => {
    if (this.draining) {
      socket.destroy();
      return;
    }
    this.webSockets.track(socket);
  };

  /** Resolves when no request is in flight. */
  whenIdle(): Promise<void> {
    if (this.requests.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle = () => {
        if (this.requests.size > 0) return;
        this.#idle = undefined;
        resolve();
      };
    });
  }
}

/** The response tells the client the connection closes after it, and Node closes it (the proxy reads `shouldKeepAlive` too). */
function closeAfter(res: ServerResponse): void {
  res.shouldKeepAlive = false;
  res.setHeader('Connection', 'close');
}

const traffic = new WeakMap<AnyServer, ServerTraffic>();

/** Follows `server`'s requests and upgrades for a later `shutdown()`; returns the remover. */
export function followTraffic(server: AnyServer): () => void {
  let followed = traffic.get(server);
  if (!followed) {
    followed = new ServerTraffic();
    traffic.set(server, followed);
  }
  const { onRequest, onUpgrade } = followed;
  // First, so that the Connection header is set before any handler writes the response head.
  server.prependListener('request', onRequest);
  server.prependListener('upgrade', onUpgrade);
  return () => {
    server.off('request', onRequest);
    server.off('upgrade', onUpgrade);
  };
}

/**
 * Stops `server` gracefully, then closes `gateway`: no new connections;
 * idle kept-alive connections closed at once and busy ones after their
 * current response (`Connection: close`); WebSockets sent close code 1001;
 * in-flight requests (downloads and uploads through tunnels too) finish
 * until the deadline, then what is left is cut. The gateway's own close
 * then sends GOAWAY on the connectors' tunnels, closes the connector
 * listener and delivers the audit events it still holds (a bounded wait).
 */
export async function shutdown(server: AnyServer, gateway: ShutdownTarget, options: ShutdownOptions = {}): Promise<ShutdownReport> {
  const timeoutMs = options.timeoutMs ?? gateway.config.server.shutdownTimeout * 1000;
  gateway.drain?.();
  const followed = traffic.get(server) ?? new ServerTraffic();
  followed.draining = true;
  const closed = new Promise<void>((resolve) => {
    if (!server.listening) resolve();
    else server.close(() => resolve());
  });
  for (const res of followed.requests) if (!res.headersSent) closeAfter(res);
  server.closeIdleConnections();
  const report = { requests: followed.requests.size, webSockets: followed.webSockets.size };
  options.onStart?.({ ...report, timeoutMs });

  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(() => resolve('deadline'), timeoutMs);
  });
  // A connection whose last response just ended is idle now: close it rather than wait for its keep-alive timeout.
  const requestsDone = followed.whenIdle().then(() => server.closeIdleConnections());
  const outcome = await Promise.race([Promise.all([requestsDone, followed.webSockets.goAway()]).then(() => 'drained' as const), deadline]);
  clearTimeout(timer);
  let cut = 0;
  if (outcome === 'deadline') {
    cut = followed.requests.size + followed.webSockets.size;
    options.onDeadline?.(cut);
    followed.webSockets.destroyAll();
  }
  server.closeAllConnections();
  await closed;
  await gateway.close();
  return { ...report, cut };
}
