/**
 * Closing forwarded WebSockets with 1001 ("going away") when the server
 * stops. The gateway splices an upgraded connection byte for byte, so a close
 * frame may only go in between two of the backend's frames: every write to
 * the client is followed (the 101 head, then frame headers and payload
 * lengths) to know where the next frame starts.
 */
import type { Duplex } from 'node:stream';
import { closeFrame } from '../forwarding/websocket-close-frame.ts';

/** Close code 1001 with a short reason, server to client (unmasked). */
const GOING_AWAY_FRAME = closeFrame(1001, 'server shutting down');

const END_OF_HEAD = [13, 10, 13, 10];

/** Where the stream written to the client stands: in the HTTP head, in a frame header, or in a payload. */
class FrameCursor {
  #inHead = true;
  #headMatched = 0;
  #header: number[] = [];
  #payloadLeft = 0;

  get atBoundary(): boolean {
    return !this.#inHead && this.#header.length === 0 && this.#payloadLeft === 0;
  }

  /** Follows `chunk`; with `stopAtBoundary`, stops at the first frame boundary. Returns the bytes consumed. */
  advance(chunk: Buffer, stopAtBoundary: boolean): number {
    let i = 0;
    while (i < chunk.length) {
      if (stopAtBoundary && this.atBoundary) return i;
      if (this.#inHead) {
        const byte = chunk[i++] as number;
        this.#headMatched = byte === END_OF_HEAD[this.#headMatched] ? this.#headMatched + 1 : byte === 13 ? 1 : 0;
        if (this.#headMatched === END_OF_HEAD.length) this.#inHead = false;
      } else if (this.#payloadLeft > 0) {
        const n = Math.min(this.#payloadLeft, chunk.length - i);
        this.#payloadLeft -= n;
        i += n;
      } else {
        this.#header.push(chunk[i++] as number);
        const length = headerLength(this.#header);
        if (length !== undefined && this.#header.length === length) {
          this.#payloadLeft = payloadLength(this.#header);
          this.#header = [];
        }
      }
    }
    return i;
  }
}

function headerLength(header: readonly number[]): number | undefined {
  if (header.length < 2) return undefined;
  const second = header[1] as number;
  const short = second & 0x7f;
  return 2 + (short === 126 ? 2 : short === 127 ? 8 : 0) + (second & 0x80 ? 4 : 0);
}

function payloadLength(header: readonly number[]): number {
  const short = (header[1] as number) & 0x7f;
  if (short < 126) return short;
  if (short === 126) return ((header[2] as number) << 8) | (header[3] as number);
  return Number(Buffer.from(header.slice(2, 10)).readBigUInt64BE());
}

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
