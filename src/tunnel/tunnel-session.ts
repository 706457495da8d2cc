/**
 * The service's end of one tunnel: an HTTP/2 client session running over a
 * connection the connector opened (a TLS socket that arrived with ALPN
 * `gatehouse-tunnel/1`, or the WebSocket fallback's stream). Each backend
 * connection is one CONNECT stream naming an app; the connector answers 200
 * once it reached the app, or refuses with a reason.
 *
 * Only ever hand this a socket no HTTP/1 parser has touched: Node 24 aborts
 * the process when HTTP/2 runs over a TLS socket taken from an HTTP upgrade
 * (test/unit/tunnel/abort.test.ts).
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { Duplex } from 'node:stream';
import {
  TUNNEL_DRAIN_TIMEOUT_MS,
  TUNNEL_MAX_HEADER_PAIRS,
  TUNNEL_MAX_SESSION_MEMORY_MB,
  TUNNEL_MAX_STREAMS,
  TUNNEL_OPEN_TIMEOUT_MS,
  TUNNEL_PING_INTERVAL_MS,
  TUNNEL_PING_TIMEOUT_MS,
} from '../limits.ts';
import type { Logger } from '../logging/logger.ts';
import { StreamSocket } from './stream-socket.ts';
import {
  appAuthority,
  HEADER_APP,
  HEADER_ERROR,
  HEADER_REQUEST_ID,
  isAppId,
  isRequestId,
  refusalError,
  startHeartbeat,
  TunnelError,
  tunnelSettings,
  widenConnectionWindow,
} from './tunnel-protocol.ts';

export interface TunnelSessionOptions {
  readonly connectorId: string;
  readonly group: string;
  /** SHA-256 of the client certificate the tunnel authenticated with: it is closed once that one is no longer accepted. */
  readonly fingerprint256?: string;
  /** A connected transport that no HTTP/1 parser has read from. */
  readonly socket: Duplex;
  /** Streams this end opens at most (the connector may advertise fewer). Default TUNNEL_MAX_STREAMS. */
  readonly maxStreams?: number;
  readonly pingIntervalMs?: number;
  readonly pingTimeoutMs?: number;
  /** How long a CONNECT may wait for the connector's answer. Default TUNNEL_OPEN_TIMEOUT_MS. */
  readonly openTimeoutMs?: number;
  readonly log?: Logger;
}

export interface OpenStreamOptions {
  /** Sent to the connector for its logs. */
  readonly requestId?: string;
  readonly signal?: AbortSignal;
}

export interface TunnelRefusalNotice {
  /** A Gatehouse error code the connector can act on, e.g. "ERR_CERT_REVOKED". */
  readonly code: string;
  readonly reason?: string;
}

interface TunnelSessionEvents {
  /** Connected: the tunnel takes streams from now on. */
  ready: [];
  close: [];
  /** The tunnel takes no new streams any more: draining, heartbeat lost, or failed. */
  unhealthy: [reason: string];
}

const { NGHTTP2_CANCEL, NGHTTP2_INADEQUATE_SECURITY, NGHTTP2_REFUSED_STREAM } = constants;
/** Never resolved: the authority only names the HTTP/2 session in Node's bookkeeping. */
const SESSION_AUTHORITY = 'http://connector.tunnel.invalid';

function noop(): void {}

function closedError(connectorId: string, reason: string, cause?: unknown): TunnelError {
  return new TunnelError('ERR_TUNNEL_CLOSED', 'The tunnel to the connector is closed.', { beforeUpstream: true, reason, connectorId, cause });
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('The operation was aborted', 'AbortError');
}

function transportSetNoDelay(socket: Duplex): void {
  const candidate = socket as Duplex & { setNoDelay?: (noDelay?: boolean) => unknown };
  if (typeof candidate.setNoDelay === 'function') candidate.setNoDelay(true);
}

function countListeners(emitter: EventEmitter | Duplex): number {
  return emitter.eventNames().reduce((sum, name) => sum + emitter.listenerCount(name), 0);
}

export class TunnelSession extends EventEmitter<TunnelSessionEvents> {
  /** Unique per tunnel, for logs. */
  readonly id: string = randomUUID();
  readonly connectorId: string;
  readonly group: string;
  readonly fingerprint256: string | undefined;
  readonly maxStreams: number;
  readonly #socket: Duplex;
  readonly #session: ClientHttp2Session;
  readonly #log: Logger | undefined;
  readonly #openTimeoutMs: number;
  readonly #open = new Set<ClientHttp2Stream>();
  readonly #sockets = new Set<StreamSocket>();
  readonly #closed: Promise<void>;
  #stopHeartbeat: () => void = noop;
  #connected = false;
  #unhealthy: string | undefined;
  #isClosed = false;
  #deadline: NodeJS.Timeout | undefined;
  #streamsOpened = 0;

  constructor(options: TunnelSessionOptions) {
    super();
    this.connectorId = options.connectorId;
    this.group = options.group;
    this.fingerprint256 = options.fingerprint256;
    this.maxStreams = options.maxStreams ?? TUNNEL_MAX_STREAMS;
    this.#socket = options.socket;
    this.#log = options.log?.child({ connectorId: this.connectorId, tunnel: this.id });
    this.#openTimeoutMs = options.openTimeoutMs ?? TUNNEL_OPEN_TIMEOUT_MS;
    // Small frames must not wait for ACKs (Nagle's algorithm).
    transportSetNoDelay(this.#socket);
    const socket = this.#socket;
    this.#session = connect(SESSION_AUTHORITY, {
      createConnection: () => socket,
      // The connector may not open streams towards the service.
      settings: tunnelSettings(0),
      maxSessionMemory: TUNNEL_MAX_SESSION_MEMORY_MB,
      maxHeaderListPairs: TUNNEL_MAX_HEADER_PAIRS,
      peerMaxConcurrentStreams: this.maxStreams,
    });
    this.#closed = new Promise<void>((resolve) => this.#session.once('close', resolve));
    const session = this.#session;
    session.once('connect', () => {
      this.#connected = true;
      widenConnectionWindow(session);
      this.#stopHeartbeat = startHeartbeat(session, {
        intervalMs: options.pingIntervalMs ?? TUNNEL_PING_INTERVAL_MS,
        timeoutMs: options.pingTimeoutMs ?? TUNNEL_PING_TIMEOUT_MS,
        onDead: () => {
          this.#log?.warn('tunnel heartbeat lost; closing the tunnel');
          this.#markUnhealthy('heartbeat_timeout');
          this.destroy();
        },
      });
      if (this.#unhealthy === undefined) this.emit('ready');
    });
    session.on('goaway', (code: number) => {
      this.#log?.info({ code }, 'connector sent GOAWAY: draining the tunnel');
      this.#markUnhealthy('goaway');
    });
    session.on('error', (error: NodeJS.ErrnoException) => {
      this.#log?.warn({ code: error.code, message: error.message }, 'tunnel session error');
      this.#markUnhealthy('error');
    });
    session.on('frameError', (type: number, code: number) => this.#log?.warn({ type, code }, 'tunnel frame error'));
    // enablePush is off; anything the connector tries to push is refused.
    session.on('stream', (stream: ClientHttp2Stream) => stream.close(constants.NGHTTP2_REFUSED_STREAM));
    session.once('close', () => {
      this.#isClosed = true;
      this.#markUnhealthy('closed');
      this.#stopHeartbeat();
      clearTimeout(this.#deadline);
      if (!this.#socket.destroyed) this.#socket.destroy();
      this.#log?.info({ streamsOpened: this.#streamsOpened }, 'tunnel closed');
      this.emit('close');
    });
  }

  /** Open streams: those being opened, in use, or idle in an agent's keep-alive pool. */
  get inFlight(): number {
    return this.#open.size;
  }

  /** Streams opened over the tunnel's life. */
  get streamsOpened(): number {
    return this.#streamsOpened;
  }

  /** Connected, not draining, heartbeat answered. */
  get healthy(): boolean {
    return this.#connected && this.#unhealthy === undefined;
  }

  /** Healthy and below its stream limit: may be picked for a new stream. */
  get acceptsStreams(): boolean {
    return this.healthy && this.#open.size < this.#streamLimit();
  }

  /** Why the tunnel stopped taking streams, once it did. */
  get unhealthyReason(): string | undefined {
    return this.#unhealthy;
  }

  get closed(): boolean {
    return this.#isClosed;
  }

  /** Resolves once the tunnel is closed, however that happened. */
  whenClosed(): Promise<void> {
    return this.#closed;
  }

  /** For leak checks and metrics: listeners on the HTTP/2 session and the transport. */
  listenerTotals(): { readonly session: number; readonly transport: number } {
    return { session: countListeners(this.#session), transport: countListeners(this.#socket) };
  }

  /**
   * Opens a CONNECT stream to `appId` and resolves with it as a socket once
   * the connector reached the app. Rejects with a TunnelError; every
   * rejection has `beforeUpstream: true` (no byte was written to the app).
   */
  openStream(appId: string, options: OpenStreamOptions = {}): Promise<StreamSocket> {
    const { signal } = options;
    return new Promise<StreamSocket>((resolve, reject) => {
      if (!isAppId(appId)) {
        reject(new TypeError(`appId must be an app id such as "wiki", got ${JSON.stringify(appId)}`));
        return;
      }
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      if (!this.healthy) {
        reject(closedError(this.connectorId, this.#unhealthy ?? 'not_connected'));
        return;
      }
      if (this.#open.size >= this.#streamLimit()) {
        reject(
          new TunnelError('ERR_TUNNEL_STREAM_LIMIT', 'The tunnel carries as many streams as it may.', {
            beforeUpstream: true,
            reason: 'stream_limit',
            connectorId: this.connectorId,
          }),
        );
        return;
      }
      const headers: Record<string, string> = {
        ':method': 'CONNECT',
        ':authority': appAuthority(appId),
        [HEADER_APP]: appId,
      };
      if (isRequestId(options.requestId)) headers[HEADER_REQUEST_ID] = options.requestId;
      let h2: ClientHttp2Stream;
      try {
        h2 = this.#session.request(headers, { endStream: false });
      } catch (error) {
        reject(closedError(this.connectorId, (error as NodeJS.ErrnoException).code ?? 'request_failed', error));
        return;
      }
      this.#streamsOpened++;
      this.#open.add(h2);
      h2.once('close', () => this.#open.delete(h2));

      const settle = (): void => {
        clearTimeout(timer);
        h2.off('response', onResponse);
        h2.off('error', onError);
        h2.off('close', onClose);
        signal?.removeEventListener('abort', onAbort);
      };
      const fail = (error: Error): void => {
        settle();
        // Errors after we gave up on the stream have nobody to report to.
        h2.on('error', noop);
        if (h2.destroyed) {
          reject(error);
          return;
        }
        // Rejected once the stream is gone, so that inFlight is exact when
        // the caller picks a tunnel again.
        h2.once('close', () => reject(error));
        if (!h2.closed) h2.close(NGHTTP2_CANCEL);
      };
      const onResponse = (answer: IncomingHttpHeaders): void => {
        const status = Number(answer[':status']);
        if (status !== 200) {
          fail(refusalError(status, answer[HEADER_ERROR], this.connectorId));
          return;
        }
        const remote = this.#socket as Duplex & { remoteAddress?: string; remotePort?: number };
        const socket = new StreamSocket(h2, {
          connectorId: this.connectorId,
          appId,
          remoteAddress: remote.remoteAddress,
          remotePort: remote.remotePort,
          tunnelClosing: () => this.#unhealthy !== undefined,
        });
        this.#sockets.add(socket);
        socket.once('close', () => this.#sockets.delete(socket));
        settle();
        resolve(socket);
      };
      const onError = (error: NodeJS.ErrnoException): void => {
        const refused = h2.rstCode === NGHTTP2_REFUSED_STREAM;
        fail(closedError(this.connectorId, refused ? 'refused_stream' : (error.code ?? 'stream_error'), error));
      };
      const onClose = (): void => fail(closedError(this.connectorId, h2.rstCode === NGHTTP2_REFUSED_STREAM ? 'refused_stream' : 'stream_closed'));
      const onAbort = (): void => fail(abortReason(signal as AbortSignal));
      // The connector gives up on the app sooner (TUNNEL_ORIGIN_CONNECT_TIMEOUT_MS): this one means it is silent.
      const timer = setTimeout(
        () =>
          fail(
            new TunnelError('ERR_TUNNEL_ORIGIN_TIMEOUT', 'The connector did not answer in time.', {
              beforeUpstream: true,
              reason: 'connector_timeout',
              connectorId: this.connectorId,
            }),
          ),
        this.#openTimeoutMs,
      );
      h2.once('response', onResponse);
      h2.once('error', onError);
      h2.once('close', onClose);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Graceful close: GOAWAY, no new streams; idle keep-alive streams are
   * closed at once, streams in use may finish until `deadlineMs`, then the
   * tunnel is cut.
   */
  close(deadlineMs: number = TUNNEL_DRAIN_TIMEOUT_MS): Promise<void> {
    if (this.#isClosed) return this.#closed;
    this.#markUnhealthy('draining');
    if (this.#deadline === undefined) {
      this.#deadline = setTimeout(() => this.destroy(), deadlineMs);
    }
    if (!this.#session.closed && !this.#session.destroyed) this.#session.close();
    return this.#closed;
  }

  /**
   * Cuts the tunnel now: every stream fails. With a notice, the connector is
   * first told why (GOAWAY INADEQUATE_SECURITY with the notice as its debug
   * data), e.g. after revocation.
   */
  destroy(notice?: TunnelRefusalNotice): void {
    this.#markUnhealthy(notice ? `refused_${notice.code}` : 'destroyed');
    const session = this.#session;
    if (!session.destroyed) {
      if (notice && this.#connected) {
        session.goaway(NGHTTP2_INADEQUATE_SECURITY, 0, Buffer.from(JSON.stringify(notice)));
      }
      session.destroy();
    }
    // A session that had begun a graceful close leaves its socket open on
    // destroy(), waiting for the peer: cut it, or 'close' may never come.
    // The socket is cut after the GOAWAY above was handed to it.
    if (!this.#socket.destroyed) setImmediate(() => this.#socket.destroy());
  }

  #streamLimit(): number {
    const advertised = this.#session.remoteSettings.maxConcurrentStreams;
    return typeof advertised === 'number' ? Math.min(this.maxStreams, advertised) : this.maxStreams;
  }

  #markUnhealthy(reason: string): void {
    if (this.#unhealthy !== undefined) return;
    this.#unhealthy = reason;
    // Idle keep-alive streams would hold a draining tunnel open: nobody will use them again.
    for (const socket of this.#sockets) if (socket.idle) socket.destroy();
    this.emit('unhealthy', reason);
  }
}

/**
 * Refuses a tunnel connection whose client certificate the listener did not
 * accept: the connector is told why (GOAWAY with the notice as debug data)
 * so that it stops retrying, then the connection is closed.
 */
export function refuseTunnel(socket: Duplex, notice: TunnelRefusalNotice): void {
  transportSetNoDelay(socket);
  const session = connect(SESSION_AUTHORITY, { createConnection: () => socket, settings: tunnelSettings(0) });
  session.on('error', noop);
  // A peer that never closes its end is not waited for longer than for a PING answer.
  const linger = setTimeout(() => session.destroy(), TUNNEL_PING_TIMEOUT_MS);
  linger.unref();
  session.once('connect', () => {
    session.goaway(NGHTTP2_INADEQUATE_SECURITY, 0, Buffer.from(JSON.stringify(notice)));
    session.close();
  });
  session.once('close', () => {
    clearTimeout(linger);
    if (!socket.destroyed) socket.destroy();
  });
}
