/**
 * The service's end of one tunnel: an HTTP/2 client session running over a
 * connection the connector opened (a TLS socket that arrived with ALPN
 * `gatehouse-tunnel/1`, or the WebSocket fallback's stream). Each backend
 * connection is one CONNECT stream naming an app; the connector answers 200
 * once it reached the app, or refuses with a reason.
 *
 * Only ever hand this a socket no HTTP/1 parser has touched: Node 24 aborts
 * the process when HTTP/2 runs over a TLS socket taken from an HTTP upgrade
 * (test/integration/tunnel/abort.test.ts).
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { TUNNEL_DRAIN_TIMEOUT_MS, TUNNEL_MAX_STREAMS, TUNNEL_OPEN_TIMEOUT_MS, TUNNEL_PING_INTERVAL_MS, TUNNEL_PING_TIMEOUT_MS } from '../limits.ts';
import type { Logger } from '../logging/logger.ts';
import { abortReason, awaitConnectAnswer, closedError, connectHeaders, streamLimitError } from './connect-stream.ts';
import { SESSION_AUTHORITY, sessionTransport, transportSetNoDelay } from './h2-transport.ts';
import type { TunnelRefusalNotice } from './refuse-tunnel.ts';
import type { StreamSocket } from './stream-socket.ts';
import { isAppId } from '../protocol/tunnel-wire.ts';
import { startHeartbeat, tunnelSessionOptions, widenConnectionWindow } from './http2-settings.ts';
import { StreamWindows } from './stream-windows.ts';
import { countListeners, describeStreams, type OpenStreamReport } from './stream-report.ts';

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

interface TunnelSessionEvents {
  /** Connected: the tunnel takes streams from now on. */
  ready: [];
  close: [];
  /** The tunnel takes no new streams any more: draining, heartbeat lost, or failed. */
  unhealthy: [reason: string];
  /** A stream of this tunnel closed: its slot is free for the next one. */
  streamClosed: [];
}

const { NGHTTP2_INADEQUATE_SECURITY, NGHTTP2_REFUSED_STREAM } = constants;

function noop(): void {}

export class TunnelSession extends EventEmitter<TunnelSessionEvents> {
  /** Unique per tunnel, for logs. */
  readonly id: string = randomUUID();
  readonly connectorId: string;
  readonly group: string;
  readonly fingerprint256: string | undefined;
  readonly maxStreams: number;
  readonly #socket: Duplex;
  readonly #session: ClientHttp2Session;
  readonly #windows: StreamWindows;
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
  /** Bytes of the stream sockets already closed, for the metrics. */
  #closedBytes = { sent: 0, received: 0 };

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
      createConnection: () => sessionTransport(socket),
      // The connector may not open streams towards the service.
      ...tunnelSessionOptions(0),
      peerMaxConcurrentStreams: this.maxStreams,
    });
    this.#windows = new StreamWindows(this.#session);
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
    session.on('stream', (stream: ClientHttp2Stream) => stream.close(NGHTTP2_REFUSED_STREAM));
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

  /** The receive window each stream of this tunnel has now, shared out of its budget among the streams in use. */
  get streamWindow(): number {
    return this.#windows.window;
  }

  /** Streams opened over the tunnel's life. */
  get streamsOpened(): number {
    return this.#streamsOpened;
  }

  /** Bytes sent into this tunnel's streams and received from them (the HTTP bytes, without HTTP/2 framing), so far. */
  bytes(): { readonly sent: number; readonly received: number } {
    let { sent, received } = this.#closedBytes;
    for (const socket of this.#sockets) {
      sent += socket.bytesWritten;
      received += socket.bytesRead;
    }
    return { sent, received };
  }

  /** Connected, not draining, heartbeat answered. */
  get healthy(): boolean {
    return this.#connected && this.#unhealthy === undefined;
  }

  /** Healthy and below its stream limit: may be picked for a new stream. */
  get acceptsStreams(): boolean {
    return this.healthy && this.#open.size < this.streamLimit;
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

  /** For leak reports: the open streams, described (walks them now; nothing is kept per stream for it). */
  describeOpenStreams(): OpenStreamReport[] {
    return describeStreams(this.#open, this.#sockets, this.#streamsOpened);
  }

  /**
   * Opens a CONNECT stream to `appId` and resolves with it as a socket once
   * the connector reached the app. Rejects with a TunnelError; every
   * rejection has `beforeUpstream: true` (no byte was written to the app).
   */
  openStream(appId: string, options: OpenStreamOptions = {}): Promise<StreamSocket> {
    const { signal } = options;
    if (!isAppId(appId)) return Promise.reject(new TypeError(`appId must be an app id such as "wiki", got ${JSON.stringify(appId)}`));
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (!this.healthy) return Promise.reject(closedError(this.connectorId, this.#unhealthy ?? 'not_connected'));
    if (this.#open.size >= this.streamLimit) return Promise.reject(streamLimitError(this.connectorId));
    let h2: ClientHttp2Stream;
    try {
      h2 = this.#session.request(connectHeaders(appId, options.requestId), { endStream: false });
    } catch (error) {
      return Promise.reject(closedError(this.connectorId, (error as NodeJS.ErrnoException).code ?? 'request_failed', error));
    }
    this.#streamsOpened++;
    this.#open.add(h2);
    h2.once('close', () => this.#open.delete(h2) && this.emit('streamClosed'));
    this.#windows.track(h2);
    return awaitConnectAnswer(h2, {
      connectorId: this.connectorId,
      appId,
      transport: this.#socket,
      openTimeoutMs: this.#openTimeoutMs,
      signal,
      tunnelClosing: () => this.#unhealthy,
      onSocket: (socket) => {
        this.#sockets.add(socket);
        socket.onIdleChange = (idle) => this.#windows.idle(idle);
        socket.once('close', () => {
          if (socket.idle) this.#windows.idle(false);
          this.#sockets.delete(socket);
          this.#closedBytes.sent += socket.bytesWritten;
          this.#closedBytes.received += socket.bytesRead;
        });
      },
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

  /** Closes one stream kept alive idle, so that its slot serves a request waiting for one; false if none is idle. */
  closeIdleStream(): boolean {
    const idle = [...this.#sockets].find((socket) => socket.idle && !socket.destroyed);
    idle?.destroy();
    return idle !== undefined;
  }

  /** Streams this tunnel may carry at once: ours, or fewer if the connector advertised fewer. */
  get streamLimit(): number {
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
