/**
 * An `http.Agent` whose sockets are tunnel streams, so that the gateway's
 * forwarders (plain requests and WebSocket upgrades) speak HTTP through a
 * connector, keep-alive included. One agent per app: the agent
 * knows which app and connector group its sockets lead to.
 *
 * A new socket is a CONNECT stream on the least loaded healthy tunnel of the
 * app's group; when opening it fails before any byte went upstream, another
 * connector is tried. Idle streams are kept alive like
 * sockets; a tunnel that drains closes its idle streams and gets no new ones.
 */
import { Agent, type ClientRequest, type ClientRequestArgs } from 'node:http';
import type { Duplex } from 'node:stream';
import { TUNNEL_AGENT_FREE_STREAM_TIMEOUT_MS, TUNNEL_AGENT_MAX_FREE_STREAMS, TUNNEL_OPEN_ATTEMPTS } from '../limits.ts';
import type { Logger } from '../logging/logger.ts';
import { StreamSocket } from './stream-socket.ts';
import type { TunnelPool } from './tunnel-pool.ts';
import type { TunnelSession } from './tunnel-session.ts';
import type { TunnelErrorCode } from '../errors/tunnel-codes.ts';
import { isTunnelError, TunnelError } from '../errors/tunnel-error.ts';
import { isAppId } from '../protocol/tunnel-wire.ts';

export interface TunnelAgentApp {
  readonly id: string;
  readonly connectorGroup: string;
}

export interface TunnelAgentOptions {
  readonly pool: TunnelPool;
  readonly app: TunnelAgentApp;
  /**
   * The scheme of the proxy target (the app's internal URL). The connector
   * does TLS to an https app; the agent only has to be accepted by
   * `https.request`. Default "http:".
   */
  readonly protocol?: 'http:' | 'https:';
  /** Request header whose value is sent to the connector for its logs. Default "x-request-id". */
  readonly requestIdHeader?: string;
  /** Tunnels tried per new stream. Default TUNNEL_OPEN_ATTEMPTS. */
  readonly attempts?: number;
  /** Idle keep-alive streams kept, and for how long. */
  readonly maxFreeStreams?: number;
  readonly freeStreamTimeoutMs?: number;
  readonly log?: Logger;
}

/** Failures that say something about the connector, not only about one tunnel. */
const CONNECTOR_FAILURES: ReadonlySet<TunnelErrorCode> = new Set<TunnelErrorCode>([
  'ERR_TUNNEL_UNKNOWN_APP',
  'ERR_TUNNEL_ORIGIN_REFUSED',
  'ERR_TUNNEL_ORIGIN_TIMEOUT',
  'ERR_TUNNEL_ORIGIN_TLS',
  'ERR_TUNNEL_PROTOCOL',
]);

/** Where addRequest leaves, in the options createConnection gets, the signal that its request was given up. */
const GIVEN_UP = Symbol('gatehouse.requestGivenUp');

interface AgentInternals {
  addRequest(req: ClientRequest, options: ClientRequestArgs): void;
}

function headerValue(headers: ClientRequestArgs['headers'], name: string): string | undefined {
  if (!headers || Array.isArray(headers)) return undefined;
  const value = (headers as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

export class TunnelAgent extends Agent {
  // Set by Agent's constructor; absent from its typings.
  declare protocol: string;
  declare defaultPort: number;
  readonly app: TunnelAgentApp;
  readonly #pool: TunnelPool;
  readonly #requestIdHeader: string;
  readonly #attempts: number;
  readonly #log: Logger | undefined;

  constructor(options: TunnelAgentOptions) {
    const freeStreamTimeoutMs = options.freeStreamTimeoutMs ?? TUNNEL_AGENT_FREE_STREAM_TIMEOUT_MS;
    super({
      keepAlive: true,
      maxFreeSockets: options.maxFreeStreams ?? TUNNEL_AGENT_MAX_FREE_STREAMS,
      timeout: freeStreamTimeoutMs,
      // Most recently used first: the other idle streams time out and free their tunnel slots.
      scheduling: 'lifo',
    });
    if (!isAppId(options.app.id)) throw new TypeError(`app.id must be an app id such as "wiki", got ${JSON.stringify(options.app.id)}`);
    const attempts = options.attempts ?? TUNNEL_OPEN_ATTEMPTS;
    if (!Number.isInteger(attempts) || attempts < 1) throw new TypeError(`attempts must be a positive integer, got ${String(attempts)}`);
    this.app = { id: options.app.id, connectorGroup: options.app.connectorGroup };
    this.#pool = options.pool;
    this.#requestIdHeader = (options.requestIdHeader ?? 'x-request-id').toLowerCase();
    this.#attempts = attempts;
    this.#log = options.log?.child({ app: this.app.id });
    // https.request checks that its agent speaks https; the bytes are TLS from the connector on.
    this.protocol = options.protocol ?? 'http:';
    this.defaultPort = this.protocol === 'https:' ? 443 : 80;
  }

  /**
   * Node's Agent: a request that wants a socket. A request destroyed before it
   * got one (its client left) says so to nobody; this tells its wait for a
   * stream, so that it leaves the queue at once.
   */
  addRequest(req: ClientRequest, options: ClientRequestArgs): void {
    // An idle stream is kept for this request: Node's Agent hands it over at once, and nothing waits that could be given up.
    // Most requests take this way, so it allocates nothing (no controller, no wrapped destroy, no options copy).
    if ((this.freeSockets[this.getName(options)]?.length ?? 0) > 0) {
      (Agent.prototype as unknown as AgentInternals).addRequest.call(this, req, options);
      return;
    }
    const givenUp = new AbortController();
    const destroy = req.destroy.bind(req);
    req.destroy = (error?: Error) => {
      givenUp.abort(error);
      return destroy(error);
    };
    (Agent.prototype as unknown as AgentInternals).addRequest.call(this, req, { ...options, [GIVEN_UP]: givenUp.signal } as ClientRequestArgs);
  }

  /** Asynchronous, as Agent allows: the socket arrives through `callback` once the connector answered. */
  override createConnection(options: ClientRequestArgs, callback?: (error: Error | null, stream: Duplex) => void): undefined {
    const requestId = headerValue(options.headers, this.#requestIdHeader);
    const signal = (options as { [GIVEN_UP]?: AbortSignal })[GIVEN_UP];
    // Node's Agent reads only the error when there is one; its typings insist on a stream.
    const failed = callback as ((error: Error) => void) | undefined;
    this.#open(requestId, signal).then(
      (socket) => callback?.(null, socket),
      (error: unknown) => failed?.(error instanceof Error ? error : new Error(String(error))),
    );
    return undefined;
  }

  /** Called by Agent when a request finished with the socket: keep it only if its tunnel still takes streams. */
  override keepSocketAlive(socket: Duplex): boolean {
    if (!(socket instanceof StreamSocket) || !socket.tunnelHealthy) return false;
    // A request waits for this slot (the group is full, or it is this app's own): it serves that one rather than idling.
    const group = this.app.connectorGroup;
    if (this.#pool.waiting(group, this.app.id) > 0 || (this.#pool.waiting(group) > 0 && this.#pool.full(group))) return false;
    const kept = super.keepSocketAlive(socket) as unknown as boolean;
    if (kept) socket.markIdle(true);
    return kept;
  }

  override reuseSocket(socket: Duplex, request: ClientRequest): void {
    if (socket instanceof StreamSocket) socket.markIdle(false);
    super.reuseSocket(socket, request);
  }

  async #open(requestId: string | undefined, signal: AbortSignal | undefined): Promise<StreamSocket> {
    const exclude = new Set<string>();
    const group = this.app.connectorGroup;
    const options = { ...(requestId === undefined ? {} : { requestId }), ...(signal ? { signal } : {}) };
    let last: TunnelError | undefined;
    for (let attempt = 0; attempt < this.#attempts; attempt++) {
      // Every tunnel at its stream limit, the app at its share, or requests of the app already waiting: wait behind them.
      const queued = !this.#pool.admits(group, this.app.id);
      let session = queued ? undefined : this.#pool.pick(group, exclude);
      if (!queued && !session) break;
      try {
        if (session) return await this.#pool.openStream(session, this.app.id, options);
        const open = (chosen: TunnelSession): Promise<StreamSocket> => {
          session = chosen;
          return this.#pool.openStream(chosen, this.app.id, options);
        };
        return await this.#pool.waitForStream(group, this.app.id, open, signal);
      } catch (error) {
        // No session: the queue itself refused (full, expired, no tunnel left), and another attempt would not do better.
        if (!isTunnelError(error) || !error.beforeUpstream || !session) throw error;
        last = error;
        this.#log?.info({ connectorId: session.connectorId, code: error.code, reason: error.reason, requestId }, 'tunnel stream refused; trying another');
        // A refusal about the app or its reachability is the connector's; a closed tunnel is only that tunnel's.
        if (CONNECTOR_FAILURES.has(error.code)) exclude.add(session.connectorId);
      }
    }
    if (last) throw last;
    throw new TunnelError('ERR_TUNNEL_NO_CONNECTOR', `No connector of group "${this.app.connectorGroup}" is connected.`, {
      beforeUpstream: true,
      reason: 'no_tunnel',
    });
  }
}
