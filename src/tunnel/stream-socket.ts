/**
 * One tunnel stream dressed as the `net.Socket` Node's HTTP client and
 * `http.Agent` expect: the agent keeps these alive between requests, so the
 * HTTP client attaches and removes its listeners on this object, never on
 * the HTTP/2 stream or the session (listeners piling up on
 * reused HTTP/2 streams). The HTTP/2 stream underneath carries the bytes with
 * its own flow control; this class only relays them with backpressure.
 *
 * Destroying it resets the stream (RST_STREAM CANCEL), which makes the
 * connector close its connection to the app.
 */
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { Duplex } from 'node:stream';
import { TunnelError } from '../errors/tunnel-error.ts';
import { HEADER_ERROR, TRAILER_ORIGIN_RESET } from '../protocol/tunnel-wire.ts';

export interface StreamSocketOptions {
  readonly connectorId: string;
  readonly appId: string;
  /** The tunnel's peer (the connector), when the transport knows it. */
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  /**
   * Why the tunnel session is going away (its unhealthy reason), undefined while it is not: tells a reset by the
   * tunnel from one by the app, and a tunnel drained on purpose (`goaway` from the connector, `draining` here).
   */
  readonly tunnelClosing: () => string | undefined;
}

const { NGHTTP2_CANCEL, NGHTTP2_CONNECT_ERROR, NGHTTP2_NO_ERROR } = constants;

/**
 * A stream cut because its tunnel was drained on purpose, by the connector (GOAWAY) or here: a shutdown, not a
 * failure (a WebSocket on it is closed with 1001, not 1011).
 */
const TUNNEL_DRAINED: Readonly<Record<string, string>> = { goaway: 'tunnel_drained_by_connector', draining: 'tunnel_drained' };

export class StreamSocket extends Duplex {
  readonly connectorId: string;
  readonly appId: string;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: string | undefined;
  readonly localAddress: string | undefined = undefined;
  readonly localPort: number | undefined = undefined;
  /** net.Socket compatibility: a tunnel stream is connected when it exists. */
  readonly connecting = false;
  readonly pending = false;
  bytesRead = 0;
  bytesWritten = 0;
  /** As on net.Socket: the idle timeout in ms, 0 for none. */
  timeout = 0;
  readonly #h2: ClientHttp2Stream;
  readonly #tunnelClosing: () => string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #idle = false;
  /** Told when the stream goes idle or back into use (its tunnel sizes stream windows by the streams in use). */
  onIdleChange: ((idle: boolean) => void) | undefined;
  #readEnded = false;
  #originReset = false;

  constructor(h2: ClientHttp2Stream, options: StreamSocketOptions) {
    // Like net.Socket: when the app ends its side, end ours (the HTTP client expects it).
    super({ allowHalfOpen: false });
    this.#h2 = h2;
    this.connectorId = options.connectorId;
    this.appId = options.appId;
    this.remoteAddress = options.remoteAddress;
    this.remotePort = options.remotePort;
    this.remoteFamily = options.remoteAddress === undefined ? undefined : options.remoteAddress.includes(':') ? 'IPv6' : 'IPv4';
    this.#tunnelClosing = options.tunnelClosing;
    h2.on('data', (chunk: Buffer) => this.#onData(chunk));
    h2.on('trailers', (trailers: IncomingHttpHeaders) => {
      if (trailers[HEADER_ERROR] === TRAILER_ORIGIN_RESET) this.#originReset = true;
    });
    h2.on('end', () => {
      // Node also ends the readable side when it destroys a reset stream or
      // one of a dead session: only an end before destruction, without an
      // error trailer, is the app closing its side.
      if (h2.destroyed || this.#originReset) {
        this.destroy(this.#failure(undefined));
        return;
      }
      this.#readEnded = true;
      this.push(null);
    });
    h2.on('error', (error: Error) => this.destroy(this.#failure(error)));
    h2.on('close', () => this.#onClose());
  }

  /** Whether the tunnel under this stream still takes streams (not draining, not dead). */
  get tunnelHealthy(): boolean {
    return this.#tunnelClosing() === undefined;
  }

  /** Whether this socket runs on `stream` (leak reports). */
  wraps(stream: ClientHttp2Stream): boolean {
    return this.#h2 === stream;
  }

  /** The stream is idle in an agent's free list (set by TunnelAgent). */
  get idle(): boolean {
    return this.#idle;
  }

  /**
   * Idle: no request owns the stream. Bytes arriving now would be read as the
   * next request's response (a desync), so they destroy it instead, as
   * Node's agent does for free net sockets.
   */
  markIdle(idle: boolean): void {
    if (idle !== this.#idle) this.onIdleChange?.(idle);
    this.#idle = idle;
    if (idle && this.readableLength > 0) this.destroy();
  }

  override _read(): void {
    if (this.#h2.isPaused()) this.#h2.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.bytesWritten += chunk.length;
    this.#touch();
    this.#h2.write(chunk, callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    const last = chunks.length - 1;
    this.#touch();
    this.#h2.cork();
    chunks.forEach(({ chunk }, index) => {
      this.bytesWritten += chunk.length;
      if (index === last) this.#h2.write(chunk, callback);
      else this.#h2.write(chunk);
    });
    this.#h2.uncork();
  }

  override _final(callback: (error?: Error | null) => void): void {
    // Half-close: END_STREAM, and the connector half-closes its connection to the app.
    if (this.#h2.closed || this.#h2.destroyed) callback();
    else this.#h2.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#h2.closed && !this.#h2.destroyed) this.#h2.close(NGHTTP2_CANCEL);
    callback(error);
  }

  /** As net.Socket: emits 'timeout' after `ms` without a byte either way; 0 turns it off. */
  setTimeout(ms: number, callback?: () => void): this {
    if (this.destroyed) return this;
    this.timeout = ms;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (ms === 0) {
      if (callback) this.removeListener('timeout', callback);
      return this;
    }
    this.#timer = setTimeout(() => this.emit('timeout'), ms);
    this.#timer.unref();
    if (callback) this.once('timeout', callback);
    return this;
  }

  /** The tunnel socket has TCP_NODELAY at both ends already (Nagle's algorithm). */
  setNoDelay(_noDelay?: boolean): this {
    return this;
  }

  /** Liveness is the tunnel's PING heartbeat; per-stream TCP keep-alive does not exist. */
  setKeepAlive(_enable?: boolean, _initialDelay?: number): this {
    return this;
  }

  /**
   * The tunnel, not a stream, holds the event loop: unref'ing one stream of
   * a shared connection could not release it.
   */
  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  address(): Record<string, never> {
    return {};
  }

  /** As net.Socket: end, then destroy once everything written has been sent. */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  resetAndDestroy(): this {
    return this.destroy();
  }

  #touch(): void {
    this.#timer?.refresh();
  }

  #onData(chunk: Buffer): void {
    if (this.#idle) {
      this.destroy();
      return;
    }
    this.bytesRead += chunk.length;
    this.#touch();
    if (!this.push(chunk)) this.#h2.pause();
  }

  #onClose(): void {
    if (this.destroyed) return;
    const code = this.#h2.rstCode ?? NGHTTP2_NO_ERROR;
    // A clean close after both ends ended: nothing to report; what is still
    // buffered stays readable and the Duplex ends itself once it is read.
    if (code === NGHTTP2_NO_ERROR && this.#readEnded) return;
    this.destroy(this.#failure(undefined));
  }

  #failure(cause: Error | undefined): TunnelError {
    const code = this.#h2.rstCode;
    if (this.#originReset || code === NGHTTP2_CONNECT_ERROR) {
      return new TunnelError('ERR_TUNNEL_ORIGIN_RESET', 'The connection to the app failed during the exchange.', {
        beforeUpstream: false,
        reason: this.#originReset ? 'origin_reset' : 'connect_error',
        connectorId: this.connectorId,
        cause,
      });
    }
    const closing = this.#tunnelClosing();
    return new TunnelError('ERR_TUNNEL_CLOSED', 'The tunnel stream ended before the exchange was complete.', {
      beforeUpstream: false,
      reason: closing === undefined ? `rst_${code ?? 'unknown'}` : (TUNNEL_DRAINED[closing] ?? 'tunnel_closed'),
      connectorId: this.connectorId,
      cause,
    });
  }
}
