/**
 * The connector's end of one tunnel: an HTTP/2 server session on the
 * connection the connector dialled out (HTTP/2 in reverse, see
 * docs/tunnel-protocol.md). This file sets the session up, keeps it alive
 * with PINGs, hears the service's GOAWAY (and whether it refused this
 * connector), drains on shutdown and says why the tunnel closed. Each
 * CONNECT stream is admitted by stream-admission.ts and spliced to its app by
 * stream-splice.ts; the session writes through write-ahead.ts unless the
 * service keeps reading on its own (data-link.ts decides).
 */
import { EventEmitter } from 'node:events';
import { constants, performServerHandshake, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import {
  TUNNEL_CONNECTOR_STREAM_BUFFER_BYTES,
  TUNNEL_DRAIN_TIMEOUT_MS,
  TUNNEL_MAX_STREAMS,
  TUNNEL_ORIGIN_CONNECT_TIMEOUT_MS,
  TUNNEL_PING_INTERVAL_MS,
  TUNNEL_PING_TIMEOUT_MS,
} from '../limits.ts';
import type { Logger } from '../logging/logger.ts';
import { type TunnelRefusal } from '../protocol/tunnel-wire.ts';
import { startHeartbeat, tunnelSessionOptions, widenConnectionWindow } from '../tunnel/http2-settings.ts';
import { transportSetNoDelay } from '../tunnel/h2-transport.ts';
import { StreamWindows } from '../tunnel/stream-windows.ts';
import type { TargetAllowList } from './allow-list.ts';
import { connectOrigin, type ConnectOriginOptions, type ResolvedApp } from './origin.ts';
import { checkConnect, dialTarget, refuseStream, type StreamAdmissionOptions } from './stream-admission.ts';
import { OriginReads } from './origin-reads.ts';
import { spliceStream } from './stream-splice.ts';
import { WriteAhead } from './write-ahead.ts';

export type { ResolvedApp } from './origin.ts';

export interface TunnelServerOptions {
  /** The applied configuration's allow-list: the app's internal URL, or undefined for any other id. */
  readonly resolveApp: (appId: string) => ResolvedApp | undefined;
  readonly log?: Logger;
  /** Concurrent streams the service may open. Default TUNNEL_MAX_STREAMS. */
  readonly maxStreams?: number;
  readonly originConnectTimeoutMs?: number;
  readonly pingIntervalMs?: number;
  readonly pingTimeoutMs?: number;
  /** The connector's local allow-list of targets; absent: any address the configuration names. */
  readonly allowList?: TargetAllowList;
  /** Dials the app; default connectOrigin. */
  readonly connectOrigin?: (app: ResolvedApp, options: ConnectOriginOptions) => Promise<Duplex>;
  /** Told of every stream (metrics); it must be cheap and must not throw. */
  readonly observer?: StreamObserver;
  /**
   * Run the HTTP/2 session straight on `socket`, a native TLS socket, without
   * the write-ahead stream: only for a service whose own sessions keep reading
   * while they write (sessionOnSocket in data-link.ts). Default false.
   */
  readonly sessionOnSocket?: boolean;
}

/** What a tunnel tells about its streams (the connector's metrics). */
export interface StreamObserver {
  /** A stream was spliced to its app over `origin`; the function returned is called once the stream closed. */
  spliced(origin: Duplex): () => void;
  /** A stream was refused, nothing was spliced. */
  refused(refusal: TunnelRefusal): void;
  /** The app's connection of a spliced stream failed (the stream ends with `origin_reset`). */
  originReset(): void;
}

/** What the service said when it refused this connector (GOAWAY debug data). */
export interface ServiceRefusal {
  readonly code: string;
  readonly reason?: string;
}

export interface TunnelCloseInfo {
  /**
   * - `drained`: we drained it (shutdown);
   * - `closed_by_service`: the service closed or drained it;
   * - `refused`: the service refused this connector (see `refusal`): retrying will not help until that changes;
   * - `heartbeat_timeout`: the service stopped answering PINGs;
   * - `error`: the connection failed.
   */
  readonly reason: 'drained' | 'closed_by_service' | 'refused' | 'heartbeat_timeout' | 'error';
  readonly refusal?: ServiceRefusal;
  readonly error?: Error;
}

interface TunnelServerEvents {
  close: [info: TunnelCloseInfo];
  /** The service sent GOAWAY without an error (it is shutting down or moving the tunnel): no new streams come, those in flight finish. */
  goingAway: [];
}

const { NGHTTP2_NO_ERROR } = constants;
function parseRefusal(data: Buffer | undefined): ServiceRefusal | undefined {
  if (!data || data.length === 0 || data.length > 1024) return undefined;
  try {
    const parsed = JSON.parse(data.toString('utf8')) as { code?: unknown; reason?: unknown } | null;
    if (typeof parsed?.code !== 'string') return undefined;
    return typeof parsed.reason === 'string' ? { code: parsed.code, reason: parsed.reason } : { code: parsed.code };
  } catch {
    return undefined;
  }
}

export class TunnelServer extends EventEmitter<TunnelServerEvents> {
  /** Resolves once the tunnel is closed, saying why. */
  readonly closed: Promise<TunnelCloseInfo>;
  /**
   * True once the service's SETTINGS arrived: it starts its HTTP/2 session
   * only after it checked our certificate, so from then on both ends count
   * the tunnel. False if the tunnel closed first.
   */
  readonly accepted: Promise<boolean>;
  readonly #socket: Duplex;
  readonly #session: ServerHttp2Session;
  readonly #windows: StreamWindows;
  readonly #admission: StreamAdmissionOptions;
  readonly #log: Logger | undefined;
  readonly #active = new Set<ServerHttp2Stream>();
  readonly #stopHeartbeat: () => void;
  readonly #observer: StreamObserver | undefined;
  #accepted = 0;
  #refused = 0;
  #draining = false;
  #deadline: NodeJS.Timeout | undefined;
  #reason: TunnelCloseInfo['reason'] | undefined;
  #refusal: ServiceRefusal | undefined;
  #error: Error | undefined;

  constructor(socket: Duplex, options: TunnelServerOptions) {
    super();
    this.#socket = socket;
    this.#admission = {
      resolveApp: options.resolveApp,
      connectOrigin: options.connectOrigin ?? connectOrigin,
      originConnectTimeoutMs: options.originConnectTimeoutMs ?? TUNNEL_ORIGIN_CONNECT_TIMEOUT_MS,
      ...(options.allowList ? { allowList: options.allowList } : {}),
      ...(options.log ? { log: options.log } : {}),
    };
    this.#log = options.log;
    this.#observer = options.observer;
    transportSetNoDelay(socket);
    // On the socket, Node's session reads and writes natively: a chunk is copied once less each way and takes no turn of
    // JavaScript streams. The write-ahead stream is what keeps this end reading while the service's does not.
    const transport = options.sessionOnSocket === true ? socket : new WriteAhead(socket);
    this.#session = performServerHandshake(transport, tunnelSessionOptions(options.maxStreams ?? TUNNEL_MAX_STREAMS));
    const session = this.#session;
    // Uploads an app stopped reading share a bounded buffer here, as downloads do at the service. Every open stream
    // counts (idle keep-alive ones cannot be told apart here), so the budget is larger than the service's.
    this.#windows = new StreamWindows(session, { budgetBytes: TUNNEL_CONNECTOR_STREAM_BUFFER_BYTES });
    this.closed = new Promise<TunnelCloseInfo>((resolve) => {
      session.once('close', () => {
        this.#stopHeartbeat();
        clearTimeout(this.#deadline);
        if (!socket.destroyed) socket.destroy();
        const info: TunnelCloseInfo = {
          reason: this.#reason ?? (this.#error ? 'error' : 'closed_by_service'),
          ...(this.#refusal ? { refusal: this.#refusal } : {}),
          ...(this.#error ? { error: this.#error } : {}),
        };
        this.#log?.info({ reason: info.reason, refusal: info.refusal, accepted: this.#accepted, refused: this.#refused }, 'tunnel closed');
        resolve(info);
        this.emit('close', info);
      });
    });
    // A server session is 'connect'ed as soon as it exists; only the peer's SETTINGS say the service took the tunnel.
    this.accepted = new Promise<boolean>((resolve) => {
      session.once('remoteSettings', () => resolve(true));
      session.once('close', () => resolve(false));
    });
    session.once('connect', () => widenConnectionWindow(session));
    this.#stopHeartbeat = startHeartbeat(session, {
      intervalMs: options.pingIntervalMs ?? TUNNEL_PING_INTERVAL_MS,
      timeoutMs: options.pingTimeoutMs ?? TUNNEL_PING_TIMEOUT_MS,
      onDead: () => {
        this.#log?.warn('the service stopped answering PINGs; closing the tunnel');
        this.#reason ??= 'heartbeat_timeout';
        session.destroy();
      },
    });
    session.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => this.#onStream(stream, headers));
    session.on('goaway', (code: number, _lastStreamId: number, data?: Buffer) => {
      const refusal = code === NGHTTP2_NO_ERROR ? undefined : parseRefusal(data);
      if (refusal) {
        this.#refusal = refusal;
        this.#reason ??= 'refused';
        this.#log?.error({ code: refusal.code, reason: refusal.reason }, 'the service refused this connector');
      } else {
        this.#reason ??= 'closed_by_service';
        this.#log?.info({ code, active: this.#active.size }, 'the service sent GOAWAY: draining the tunnel');
      }
      this.#draining = true;
      if (!refusal && code === NGHTTP2_NO_ERROR) this.emit('goingAway');
    });
    session.on('error', (error: Error) => {
      this.#error ??= error;
      this.#log?.warn({ code: (error as NodeJS.ErrnoException).code, message: error.message }, 'tunnel session error');
    });
    session.on('frameError', (type: number, code: number) => this.#log?.warn({ type, code }, 'tunnel frame error'));
  }

  /** Streams spliced to an app right now. */
  get activeStreams(): number {
    return this.#active.size;
  }

  /** Streams accepted (answered 200) and refused over the tunnel's life. */
  get acceptedStreams(): number {
    return this.#accepted;
  }

  get refusedStreams(): number {
    return this.#refused;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Shutdown: GOAWAY (no new streams), in-flight streams finish, then the
   * tunnel closes; whatever is left at `deadlineMs` is cut.
   */
  drain(deadlineMs: number = TUNNEL_DRAIN_TIMEOUT_MS): Promise<TunnelCloseInfo> {
    this.#draining = true;
    this.#reason ??= 'drained';
    const session = this.#session;
    if (!session.closed && !session.destroyed) {
      this.#log?.info({ active: this.#active.size }, 'draining the tunnel');
      session.close();
    }
    if (this.#deadline === undefined && !session.destroyed) {
      this.#deadline = setTimeout(() => this.destroy(), deadlineMs);
    }
    return this.closed;
  }

  /** Cuts the tunnel now: every stream and its app connection are closed. */
  destroy(): void {
    this.#reason ??= 'drained';
    this.#session.destroy();
    if (!this.#socket.destroyed) this.#socket.destroy();
  }

  #refuse(stream: ServerHttp2Stream, refusal: TunnelRefusal): void {
    this.#refused++;
    this.#observer?.refused(refusal);
    refuseStream(stream, refusal);
  }

  #onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    // Stream errors end in 'close', where the app connection is closed; nothing more to do here.
    stream.on('error', () => undefined);
    this.#windows.track(stream);
    if (this.#draining) {
      this.#refuse(stream, 'draining');
      return;
    }
    const target = checkConnect(headers, this.#admission);
    if ('refusal' in target) {
      this.#refuse(stream, target.refusal);
      return;
    }
    const reads = new OriginReads();
    void dialTarget(stream, target, this.#admission, reads.onread).then((origin) => {
      if (origin === undefined) return;
      if (typeof origin === 'string') {
        this.#refuse(stream, origin);
        return;
      }
      this.#accepted++;
      this.#active.add(stream);
      const observer = this.#observer;
      const done = observer?.spliced(origin);
      spliceStream(stream, origin, {
        appId: target.appId,
        requestId: target.requestId,
        reads,
        ...(this.#log ? { log: this.#log } : {}),
        ...(observer ? { onOriginError: () => observer.originReset() } : {}),
        onClose: () => {
          this.#active.delete(stream);
          done?.();
        },
      });
    });
  }
}
