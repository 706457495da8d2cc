/**
 * Closing forwarded WebSockets with 1001 ("going away") when the server
 * stops, each at its next frame boundary (FrameCursor follows every write to
 * the client to know where that is).
 */
import type { Duplex } from 'node:stream';
import { closeFrame } from '../forwarding/websocket-close-frame.ts';
import { FrameCursor } from '../forwarding/websocket-frames.ts';

/** Close code 1001 with a short reason, server to client (unmasked). */
const GOING_AWAY_FRAME = closeFrame(1001, 'server shutting down');

type Write = Duplex['write'];

/** The upgraded client connections of one server, each closable with 1001 at its next frame boundary. */
export class GoingAwaySockets {
  readonly #goAway = new Map<Duplex, () => void>();

  get size(): number {
    return this.#goAway.size;
  }

  /** Follows what is written to `socket` from now on (call before the 101 is written). */
  track(socket: Duplex): void {
    if (this.#goAway.has(socket)) return;
    const cursor = new FrameCursor();
    const write = socket.write.bind(socket) as (chunk: Buffer, callback?: (error?: Error | null) => void) => boolean;
    let state: 'open' | 'closing' | 'closed' = 'open';
    const sendClose = (): void => {
      state = 'closed';
      write(GOING_AWAY_FRAME);
      // The client answers with its own close frame, which still reaches the backend; we send nothing more.
      socket.end();
    };
    const wrapped = (chunk: unknown, encoding?: unknown, callback?: unknown): boolean => {
      const done = (typeof encoding === 'function' ? encoding : callback) as ((error?: Error | null) => void) | undefined;
      if (state === 'closed') {
        if (done) queueMicrotask(() => done());
        return true;
      }
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
      if (state === 'open') {
        cursor.advance(bytes, false);
        return write(bytes, done);
      }
      const upTo = cursor.advance(bytes, true);
      const ok = upTo > 0 ? write(bytes.subarray(0, upTo)) : true;
      if (cursor.atBoundary) sendClose();
      if (done) queueMicrotask(() => done());
      return ok;
    };
    socket.write = wrapped as Write;
    this.#goAway.set(socket, () => {
      if (state !== 'open') return;
      // A close frame already went out (the backend's, or the forwarder's when the backend went): nothing may follow it.
      if (cursor.closeSeen || socket.writableEnded) {
        state = 'closed';
        return;
      }
      state = 'closing';
      if (cursor.atBoundary) sendClose();
    });
    socket.once('close', () => this.#goAway.delete(socket));
  }

  /** Sends 1001 on every tracked socket, each at its next frame boundary; resolves once all are closed. */
  goAway(): Promise<void> {
    const closing = [...this.#goAway.keys()].map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
    for (const goAway of this.#goAway.values()) goAway();
    return Promise.all(closing).then(() => undefined);
  }

  destroyAll(): void {
    for (const socket of this.#goAway.keys()) socket.destroy();
  }
}
