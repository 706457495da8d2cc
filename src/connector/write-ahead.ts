import type { Duplex } from 'node:stream';
import { TUNNEL_CONNECTOR_WRITE_AHEAD_BYTES } from '../limits.ts';

// The transport's own listener type: whatever it emits goes to the session unchanged.
type Listener = Parameters<Duplex['on']>[1];

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
 *
 * Not a Duplex of its own: Node wraps any stream without a native handle in
 * its JSStreamSocket, which uses only the calls below, and a second
 * stream's buffering between the two (a Readable's push and 'data', a
 * Writable's queue and its deferred callbacks) doubled the JavaScript work
 * of every frame. Reads and the transport's events go straight from the
 * transport to the session; a write's callback runs synchronously when the
 * write is under the bound (JSStreamSocket completes the write on the next
 * turn of the event loop itself).
 */
export class WriteAhead {
  readonly readableObjectMode = false;
  readonly #inner: Duplex;
  readonly #limit: number;

  constructor(inner: Duplex, limit: number = TUNNEL_CONNECTOR_WRITE_AHEAD_BYTES) {
    this.#inner = inner;
    this.#limit = limit;
  }

  /** What Node's HTTP/2 session takes: it wraps anything without a native handle in a JSStreamSocket. */
  asStream(): Duplex {
    return this as unknown as Duplex;
  }

  get readable(): boolean {
    return this.#inner.readable;
  }

  get writable(): boolean {
    return this.#inner.writable;
  }

  on(event: string, listener: Listener): this {
    this.#inner.on(event, listener);
    return this;
  }

  once(event: string, listener: Listener): this {
    this.#inner.once(event, listener);
    return this;
  }

  removeListener(event: string, listener: Listener): this {
    this.#inner.removeListener(event, listener);
    return this;
  }

  off(event: string, listener: Listener): this {
    return this.removeListener(event, listener);
  }

  pause(): this {
    this.#inner.pause();
    return this;
  }

  resume(): this {
    this.#inner.resume();
    return this;
  }

  cork(): void {
    this.#inner.cork();
  }

  uncork(): void {
    this.#inner.uncork();
  }

  write(chunk: Buffer, callback?: (error?: Error | null) => void): boolean {
    this.#inner.write(chunk);
    if (callback) {
      if (this.#inner.writableLength <= this.#limit) callback();
      else this.#inner.once('drain', () => callback());
    }
    return true;
  }

  end(callback?: () => void): this {
    this.#inner.end(callback);
    return this;
  }

  destroy(error?: Error): this {
    this.#inner.destroy(error);
    return this;
  }
}
