/**
 * Reads an app's answer for one tunnel stream in pieces sized to what the
 * stream may send. Node reads a socket 64 KiB at a time whatever the reader
 * does with it, so with pipe() a stream whose client stopped reading held one
 * 64 KiB read queued on the stream and another in the socket's buffer: 128 KiB
 * per slow download at the connector, whatever its window. Here each read is
 * at most the stream's send window (the gateway's SETTINGS_INITIAL_WINDOW_SIZE,
 * which it shrinks as its streams go into use), between 16 and 64 KiB, and the
 * app's socket waits as soon as one such read waits on a stream with a small
 * window: a stalled stream holds one read. A bulk transfer, with its large
 * window, reads 64 KiB at a time and keeps up to four reads queued.
 *
 * Reads go into one buffer shared by every app connection (Node's `onread`)
 * and are copied out before the callback returns, so that an idle connection
 * holds no read buffer either. TLS connections to apps are read the same way:
 * `tls.connect` hands the decrypted bytes to `onread` too.
 */
import type { OnReadOpts } from 'node:net';
import type { ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { TUNNEL_MIN_STREAM_WINDOW_BYTES } from '../limits.ts';
import { powerOfTwoWithin } from '../tunnel/stream-windows.ts';

/** What Node reads from a socket at most; a larger read would not be any faster here. */
const MAX_READ_BYTES = 64 * 1024;

/** Reads queued on a stream at most, whatever its window: four reads keep a bulk transfer's window filled. */
const MAX_QUEUED_BYTES = 4 * MAX_READ_BYTES;

let shared: Buffer | undefined;

/** One read's room: the stream's send window, as a power of two between the bounds (the windows' own rounding). */
export function readSizeFor(sendWindow: number): number {
  return powerOfTwoWithin(sendWindow, TUNNEL_MIN_STREAM_WINDOW_BYTES, MAX_READ_BYTES);
}

/** What a stream may have written and not yet sent before its app's socket waits: one read, more for large windows. */
export function queueLimitFor(sendWindow: number): number {
  return Math.max(readSizeFor(sendWindow), Math.min(Math.floor(sendWindow / 4), MAX_QUEUED_BYTES));
}

export class OriginReads {
  #stream: ServerHttp2Stream | undefined;
  #socket: Duplex | undefined;
  /** Read before the stream was attached; written to it once it is. */
  #early: Buffer[] = [];
  #adopted = false;
  #paused = false;

  /** For `net.connect`: Node calls `buffer` once as it creates the socket, so an adopted reader is known at once. */
  readonly onread: OnReadOpts = {
    buffer: () => {
      this.#adopted = true;
      shared ??= Buffer.allocUnsafeSlow(MAX_READ_BYTES);
      return shared.subarray(0, this.#readSize());
    },
    callback: (bytes, buffer) => this.#onRead(Buffer.from(buffer.subarray(0, bytes))),
  };

  /** Whether the socket was opened with `onread`: its bytes arrive here, never as 'data'. */
  get adopted(): boolean {
    return this.#adopted;
  }

  /** Sends what the app's socket has read, and will read, on `stream`; the app's FIN ends the stream. */
  attach(stream: ServerHttp2Stream, socket: Duplex): void {
    this.#stream = stream;
    this.#socket = socket;
    const end = (): void => {
      if (!stream.writableEnded && !stream.destroyed) stream.end();
    };
    for (const chunk of this.#early.splice(0)) this.#send(chunk);
    if (socket.readableEnded) end();
    else socket.once('end', end);
    if (this.#paused && !this.#full()) this.#resume();
  }

  #sendWindow(): number {
    return this.#stream?.session?.remoteSettings.initialWindowSize ?? TUNNEL_MIN_STREAM_WINDOW_BYTES;
  }

  #readSize(): number {
    return readSizeFor(this.#sendWindow());
  }

  /**
   * Whether the app's socket should wait: what was written to the stream and not yet taken by the session is a
   * read's worth, or with a large window a quarter of it (up to 256 KiB), so that a bulk transfer has its next
   * reads at hand when the window opens, as pipe() had with the socket's own buffer.
   */
  #full(): boolean {
    const stream = this.#stream;
    return stream !== undefined && stream.writableLength >= queueLimitFor(this.#sendWindow());
  }

  #onRead(chunk: Buffer): boolean {
    if (this.#stream === undefined) {
      this.#early.push(chunk);
      this.#paused = true;
      return false;
    }
    this.#send(chunk);
    if (!this.#full()) return true;
    this.#paused = true;
    return false;
  }

  #send(chunk: Buffer): void {
    const stream = this.#stream!;
    // A closed stream destroys the app's socket; anything read in between has nowhere to go.
    if (stream.destroyed || stream.writableEnded) return;
    stream.write(chunk, () => {
      if (this.#paused && !this.#full()) this.#resume();
    });
  }

  #resume(): void {
    this.#paused = false;
    this.#socket?.resume();
  }
}
