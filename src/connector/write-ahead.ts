import { Duplex } from 'node:stream';
import { TUNNEL_CONNECTOR_WRITE_AHEAD_BYTES, TUNNEL_READ_BATCH_BYTES } from '../limits.ts';

/**
 * Sits between a tunnel's HTTP/2 session and its transport, at the connector
 * and at the service (src/tunnel/h2-transport.ts says why there), and
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
  #closing = false;
  /** What arrived while the session was not reading, handed over as one chunk when it reads again. */
  #held: Buffer[] = [];
  #heldBytes = 0;

  constructor(inner: Duplex, limit: number = TUNNEL_CONNECTOR_WRITE_AHEAD_BYTES) {
    super({ allowHalfOpen: true });
    this.#inner = inner;
    this.#limit = limit;
    // Node's session takes one chunk, answers it (WINDOW_UPDATEs, a PING's ACK) with a write, and reads nothing more
    // until that write completed, a turn of the event loop later: one chunk per turn. A TLS socket delivers a record
    // (16 KiB) at a time, so on a busy loop a tunnel moved little more than 16 KiB per turn, and its peer's
    // write-ahead queue grew to megabytes that every new response waited behind. What arrives while the session is
    // not reading is held here and handed over in one chunk: the session then takes all of it in its next turn.
    inner.on('data', (chunk: Buffer) => {
      if (this.readableFlowing !== false && this.#held.length === 0) {
        if (!this.push(chunk)) inner.pause();
        return;
      }
      this.#held.push(chunk);
      this.#heldBytes += chunk.length;
      if (this.#heldBytes >= TUNNEL_READ_BATCH_BYTES) inner.pause();
    });
    this.on('resume', () => this.#handOver());
    // The transport's end closes this stream instead of ending it. An end would reach the session's socket as EOF,
    // and Node then shuts that socket's writing side down while the session lives: the next frame the session writes
    // (a stream's RST_STREAM, a ping) trips an internal assertion of Node's JS stream socket and kills the process.
    // HTTP/2 has no half-closed connection, so nothing is lost; what is still buffered (a last GOAWAY) is read first.
    inner.once('end', () => this.#closeOnceRead());
    inner.once('error', (error: Error) => this.destroy(error));
    inner.once('close', () => this.#closeOnceRead());
  }

  #handOver(): void {
    if (this.#held.length === 0) return;
    const chunk = this.#held.length === 1 ? this.#held[0]! : Buffer.concat(this.#held, this.#heldBytes);
    this.#held = [];
    this.#heldBytes = 0;
    if (!this.push(chunk)) this.#inner.pause();
  }

  #closeOnceRead(): void {
    if (this.destroyed || this.#closing) return;
    this.#closing = true;
    if (this.readableLength === 0 && this.#held.length === 0) {
      this.destroy();
      return;
    }
    // The session paused its reading: close as soon as it has taken the last buffered chunk.
    const onData = (): void => {
      if (this.readableLength > 0 || this.#held.length > 0) return;
      this.off('data', onData);
      this.destroy();
    };
    this.on('data', onData);
  }

  override _read(): void {
    this.#handOver();
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
