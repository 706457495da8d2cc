/**
 * The connector's end of one tunnel: an HTTP/2 server session on the
 * connection the connector dialled out (HTTP/2 in reverse, see
 * docs/connector-protocol.md). Each CONNECT stream names an app id; the connector looks it up in
 * the configuration it applied (never a host:port from the stream), checks
 * the address against its local allow-list when it has one (the
 * configuration comes from the service: only the allow-list bounds what a
 * compromised service can make it dial), connects to the app, answers 200
 * and splices bytes both ways with backpressure.
 *
 * Refusals are answered with a status and `gatehouse-error`, and logged with
 * the request id. A failure of the app's connection ends the stream with a
 * `gatehouse-error: origin_reset` trailer (where RFC 9113 §8.5 has
 * RST_STREAM CONNECT_ERROR, which Node may drop: see #splice); a reset stream
 * closes the app's connection.
 */
import { EventEmitter } from 'node:events';
import { constants, performServerHandshake, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { Duplex } from 'node:stream';
import {
  TUNNEL_CONNECTOR_WRITE_AHEAD_BYTES,
  TUNNEL_DRAIN_TIMEOUT_MS,
  TUNNEL_MAX_HEADER_PAIRS,
  TUNNEL_MAX_SESSION_MEMORY_MB,
  TUNNEL_MAX_STREAMS,
  TUNNEL_ORIGIN_CONNECT_TIMEOUT_MS,
  TUNNEL_PING_INTERVAL_MS,
  TUNNEL_PING_TIMEOUT_MS,
} from '../limits.ts';
import type { Logger } from '../logging/logger.ts';
import {
  appIdOfConnect,
  HEADER_APP,
  HEADER_ERROR,
  HEADER_REQUEST_ID,
  isRequestId,
  REFUSAL_STATUS,
  startHeartbeat,
  TRAILER_ORIGIN_RESET,
  tunnelSettings,
  widenConnectionWindow,
  type TunnelRefusal,
} from '../tunnel/tunnel-protocol.ts';
import type { TargetAllowList } from './allow-list.ts';
import { connectOrigin, OriginError, type ConnectOriginOptions, type ResolvedApp } from './origin.ts';

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
}

const { NGHTTP2_NO_ERROR } = constants;
/** Attacker-controlled text is cut to this length before it is logged. */
const LOGGED_TEXT_LENGTH = 256;

function loggable(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  return text.length > LOGGED_TEXT_LENGTH ? `${text.slice(0, LOGGED_TEXT_LENGTH)}…` : text;
}

/** host:port of an internal URL, for the connector's own log. */
function targetOf(internalUrl: string): string {
  try {
    const url = new URL(internalUrl);
    return `${url.hostname}:${url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : url.port}`;
  } catch {
    return 'invalid';
  }
}

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

/**
 * Sits between the connector's HTTP/2 session and its transport, and
 * completes the session's writes at once while the transport's queue stays
 * under `limit`.
 *
 * Why: Node's HTTP/2 session stops reading its socket while one of its
 * socket writes is in progress. With windows larger than the kernel's socket
 * buffers, both ends of a tunnel busy in both directions (uploads and
 * downloads at once) end up each waiting for a write that only the other
 * end's reading could finish, and neither reads: the tunnel deadlocks. With
 * this stream the connector's writes finish at once, so the connector always
 * reads and the service's writes always finish. Flow control bounds what the
 * connector can have unread on the wire by the service's connection window;
 * `limit` is above that, so it is never reached while the service lives.
 */
export class WriteAhead extends Duplex {
  readonly #inner: Duplex;
  readonly #limit: number;

  constructor(inner: Duplex, limit: number = TUNNEL_CONNECTOR_WRITE_AHEAD_BYTES) {
    super({ allowHalfOpen: true });
    this.#inner = inner;
    this.#limit = limit;
    let ended = false;
    inner.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) inner.pause();
    });
    inner.once('end', () => {
      ended = true;
      this.push(null);
    });
    inner.once('error', (error: Error) => this.destroy(error));
    inner.once('close', () => {
      // After a clean end, what is still buffered (a last GOAWAY) is read first.
      if (!ended || this.readableLength === 0) this.destroy();
      else this.once('end', () => this.destroy());
    });
  }

  override _read(): void {
    this.#inner.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#inner.write(chunk);
    this.#settle(callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.#inner.cork();
    for (const { chunk } of chunks) this.#inner.write(chunk);
    this.#inner.uncork();
    this.#settle(callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#inner.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#inner.destroy();
    callback(error);
  }

  #settle(callback: (error?: Error | null) => void): void {
    if (this.#inner.writableLength <= this.#limit) callback();
    else this.#inner.once('drain', () => callback());
  }
}

export class TunnelServer extends EventEmitter<TunnelServerEvents> {
  /** Resolves once the tunnel is closed, saying why. */
  readonly closed: Promise<TunnelCloseInfo>;
  readonly #socket: Duplex;
  readonly #session: ServerHttp2Session;
  readonly #options: TunnelServerOptions;
  readonly #log: Logger | undefined;
  readonly #active = new Set<ServerHttp2Stream>();
  readonly #stopHeartbeat: () => void;
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
    this.#options = options;
    this.#log = options.log;
    const candidate = socket as Duplex & { setNoDelay?: (noDelay?: boolean) => unknown };
    if (typeof candidate.setNoDelay === 'function') candidate.setNoDelay(true);
    this.#session = performServerHandshake(new WriteAhead(socket), {
      settings: tunnelSettings(options.maxStreams ?? TUNNEL_MAX_STREAMS),
      maxSessionMemory: TUNNEL_MAX_SESSION_MEMORY_MB,
      maxHeaderListPairs: TUNNEL_MAX_HEADER_PAIRS,
    });
    const session = this.#session;
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
        this.#log?.info({ code }, 'the service sent GOAWAY');
      }
      this.#draining = true;
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
    if (stream.closed || stream.destroyed) return;
    stream.respond({ ':status': REFUSAL_STATUS[refusal], [HEADER_ERROR]: refusal }, { endStream: true });
    // The service sends nothing before a 200; drop anything it does send.
    stream.resume();
  }

  #onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    // Stream errors end in 'close', where the app connection is closed; nothing more to do here.
    stream.on('error', () => undefined);
    const requestId = isRequestId(headers[HEADER_REQUEST_ID]) ? headers[HEADER_REQUEST_ID] : undefined;
    if (this.#draining) {
      this.#refuse(stream, 'draining');
      return;
    }
    if (headers[':method'] !== 'CONNECT') {
      this.#log?.warn({ method: loggable(headers[':method']), requestId }, 'refused a stream that is not a CONNECT');
      this.#refuse(stream, 'bad_method');
      return;
    }
    const appId = appIdOfConnect(headers[':authority'], headers[HEADER_APP]);
    if (appId === undefined) {
      this.#log?.warn(
        { authority: loggable(headers[':authority']), app: loggable(headers[HEADER_APP]), requestId },
        'refused a CONNECT that does not name an app',
      );
      this.#refuse(stream, 'bad_target');
      return;
    }
    const app = this.#options.resolveApp(appId);
    if (!app) {
      this.#log?.warn({ app: appId, requestId }, "refused a CONNECT for an app outside this connector's configuration");
      this.#refuse(stream, 'unknown_app');
      return;
    }
    const abort = new AbortController();
    const onEarlyClose = (): void => abort.abort();
    stream.once('close', onEarlyClose);
    const dial = this.#options.connectOrigin ?? connectOrigin;
    const { allowList } = this.#options;
    dial(app, {
      timeoutMs: this.#options.originConnectTimeoutMs ?? TUNNEL_ORIGIN_CONNECT_TIMEOUT_MS,
      signal: abort.signal,
      ...(allowList ? { allowList } : {}),
    }).then(
      (origin) => {
        stream.off('close', onEarlyClose);
        if (stream.closed || stream.destroyed) {
          origin.destroy();
          return;
        }
        stream.respond({ ':status': 200 }, { waitForTrailers: true });
        this.#splice(stream, origin, appId, requestId);
      },
      (error: unknown) => {
        stream.off('close', onEarlyClose);
        if (abort.signal.aborted) return;
        const refusal = error instanceof OriginError ? error.refusal : 'origin_refused';
        const code = error instanceof OriginError ? error.code : (error as NodeJS.ErrnoException | undefined)?.code;
        if (refusal === 'target_refused') {
          // The operator's log names the address; the service only learns the refusal.
          this.#log?.warn({ app: appId, requestId, refusal, target: targetOf(app.internalUrl) }, "refused a target outside the connector's allow-list");
        } else {
          this.#log?.warn({ app: appId, requestId, refusal, code }, 'could not reach the app');
        }
        this.#refuse(stream, refusal);
      },
    );
  }

  #splice(stream: ServerHttp2Stream, origin: Duplex, appId: string, requestId: string | undefined): void {
    this.#accepted++;
    this.#active.add(stream);
    this.#log?.info({ app: appId, requestId, stream: stream.id }, 'stream open');
    // The stream ends with trailers: none when the app closed its side, an
    // error when its connection failed. Node may send END_STREAM ahead of an
    // RST_STREAM queued behind a write and then drop the RST, so the
    // failure travels with the END_STREAM itself (tunnel-protocol.ts).
    let failed = false;
    stream.on('wantTrailers', () => stream.sendTrailers(failed ? { [HEADER_ERROR]: TRAILER_ORIGIN_RESET } : {}));
    origin.once('error', (error: NodeJS.ErrnoException) => {
      this.#log?.info({ app: appId, requestId, code: error.code }, 'the app connection failed; ending the stream with an error');
      failed = true;
      if (!stream.closed && !stream.destroyed && !stream.writableEnded) stream.end();
    });
    stream.once('close', () => {
      this.#active.delete(stream);
      // A reset stream (client abort, tunnel gone) must not leave the app connection open.
      origin.destroy();
      const counters = origin as Duplex & { bytesRead?: number; bytesWritten?: number };
      this.#log?.debug({ app: appId, requestId, rstCode: stream.rstCode, up: counters.bytesWritten, down: counters.bytesRead }, 'stream closed');
    });
    // pipe(), not pipeline(): pipeline would destroy the HTTP/2 stream on
    // the first error, cutting the error trailer and any RST_STREAM still
    // queued. Errors are handled above: an app failure ends the stream with
    // an error trailer, a closed stream destroys the app connection. pipe()
    // keeps backpressure and carries each half-close: END_STREAM ends the app
    // connection's write side, its FIN ends the stream.
    stream.pipe(origin);
    origin.pipe(stream);
  }
}
