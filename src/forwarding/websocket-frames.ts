/**
 * Following the WebSocket frames written to a client. The gateway splices an
 * upgraded connection byte for byte, so a frame of its own (a close frame)
 * may only go in between two of the backend's frames: every byte written to
 * the client is followed (the 101 head, then frame headers and payload
 * lengths) to know where the next frame starts.
 */

const END_OF_HEAD = [13, 10, 13, 10];
const OPCODE_CLOSE = 0x8;

/** Where the stream written to the client stands: in the HTTP head, in a frame header, or in a payload. */
export class FrameCursor {
  #inHead: boolean;
  #headMatched = 0;
  #header: number[] = [];
  #payloadLeft = 0;
  #closeSeen = false;

  /** `afterHead`: the bytes followed start after the 101 head (the first is a frame's). */
  constructor(options: { readonly afterHead?: boolean } = {}) {
    this.#inHead = options.afterHead !== true;
  }

  get atBoundary(): boolean {
    return !this.#inHead && this.#header.length === 0 && this.#payloadLeft === 0;
  }

  /** Whether a close frame has begun: the client has been told why the WebSocket ends, and nothing may follow it. */
  get closeSeen(): boolean {
    return this.#closeSeen;
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
        if (this.#header.length === 1 && ((this.#header[0] as number) & 0x0f) === OPCODE_CLOSE) this.#closeSeen = true;
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
