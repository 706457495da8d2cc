/**
 * Keeps what the streams of one tunnel can hold unread, all together, within
 * a budget. A stream's window is what its sender may send before the reader
 * takes any of it: a reader that stopped (a client that no longer reads a
 * download, an app that no longer reads an upload) leaves up to a window
 * buffered at the receiving end. Large windows carry bulk transfers at full
 * speed, and a thousand stalled readers with 8 MiB each would be 8 GiB.
 *
 * HTTP/2 sets every stream's window at once (SETTINGS_INITIAL_WINDOW_SIZE;
 * a change applies to the streams already open too, RFC 9113 §6.9.2), so the
 * window follows the number of open streams: the budget divided among them,
 * in powers of two between a floor and the largest window. It shrinks before
 * a stream opens (the SETTINGS frame goes out ahead of the stream's HEADERS,
 * so the peer never sends the new stream more) and grows back, with some
 * slack, as streams close.
 */
import type { Http2Session, Http2Stream } from 'node:http2';
import { TUNNEL_MAX_OUTSTANDING_SETTINGS, TUNNEL_MIN_STREAM_WINDOW_BYTES, TUNNEL_STREAM_BUFFER_BYTES, TUNNEL_STREAM_WINDOW_BYTES } from '../limits.ts';

/** SETTINGS sent and not yet acknowledged, at most: half of what the session allows (past that, Node destroys it), the rest for others' SETTINGS. */
export const MAX_PENDING_WINDOW_SETTINGS = TUNNEL_MAX_OUTSTANDING_SETTINGS / 2;

export interface StreamWindowsOptions {
  /** What all streams together may hold unread. Default TUNNEL_STREAM_BUFFER_BYTES. */
  readonly budgetBytes?: number;
  /** The largest window, the one a stream alone gets. Default TUNNEL_STREAM_WINDOW_BYTES. */
  readonly maxWindowBytes?: number;
  /** The smallest window, however many streams are open. Default TUNNEL_MIN_STREAM_WINDOW_BYTES. */
  readonly minWindowBytes?: number;
}

/** `bytes` rounded down to a power of two, within [min, max] (0 gives min). */
export function powerOfTwoWithin(bytes: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, 2 ** Math.floor(Math.log2(bytes))));
}

/** The window each of `streams` open streams may have: the budget shared out, as a power of two within [min, max]. */
export function windowFor(streams: number, options: StreamWindowsOptions = {}): number {
  const budget = options.budgetBytes ?? TUNNEL_STREAM_BUFFER_BYTES;
  const max = options.maxWindowBytes ?? TUNNEL_STREAM_WINDOW_BYTES;
  const min = options.minWindowBytes ?? TUNNEL_MIN_STREAM_WINDOW_BYTES;
  return powerOfTwoWithin(budget / Math.max(1, streams), min, max);
}

export class StreamWindows {
  readonly #session: Http2Session;
  readonly #options: StreamWindowsOptions;
  /** The window the peer has been told (or is being told) to use. */
  #window: number;
  /** A window to advertise once fewer SETTINGS are waiting for their acknowledgement. */
  #deferred: number | undefined;
  #pending = 0;
  /** Streams that may receive data: open, and not idle. */
  #counted = 0;

  /** `session` advertised `initialWindow` in its first SETTINGS. */
  constructor(session: Http2Session, options: StreamWindowsOptions = {}, initialWindow: number = TUNNEL_STREAM_WINDOW_BYTES) {
    this.#session = session;
    this.#window = initialWindow;
    this.#options = options;
  }

  /** The window advertised last. */
  get window(): number {
    return this.#deferred ?? this.#window;
  }

  /** Streams counted now. */
  get streams(): number {
    return this.#counted;
  }

  /**
   * Counts `stream` until it closes. Call it in the same turn as the stream
   * was submitted: a smaller window then goes out first (SETTINGS frames are
   * sent ahead of HEADERS), so the peer never sends the new stream more.
   */
  track(stream: Http2Stream): void {
    this.#count(1);
    stream.once('close', () => this.#count(-1));
  }

  /**
   * A tracked stream went idle (kept alive, no request on it: it receives
   * nothing) or back into use. Call it with `false` before the next request
   * is written, and with `false` too if it closes while idle.
   */
  idle(idle: boolean): void {
    this.#count(idle ? -1 : 1);
  }

  #count(change: number): void {
    this.#counted += change;
    this.fit(this.#counted);
  }

  /**
   * `streams` streams may receive data. Shrinks the window at once if they
   * could hold more than the budget; grows it only once twice as many would
   * still fit, so that a count going up and down by one around a step does
   * not send a SETTINGS frame each time.
   */
  fit(streams: number): void {
    const current = this.window;
    const safe = windowFor(streams, this.#options);
    if (safe < current) this.#advertise(safe);
    else {
      const relaxed = windowFor(streams * 2, this.#options);
      if (relaxed > current) this.#advertise(relaxed);
    }
  }

  #advertise(window: number): void {
    const session = this.#session;
    if (session.destroyed || session.closed) return;
    if (this.#pending >= MAX_PENDING_WINDOW_SETTINGS) {
      this.#deferred = window;
      return;
    }
    this.#deferred = undefined;
    this.#window = window;
    this.#pending += 1;
    session.settings({ initialWindowSize: window }, () => {
      this.#pending -= 1;
      const deferred = this.#deferred;
      if (deferred !== undefined && deferred !== this.#window) this.#advertise(deferred);
      else this.#deferred = undefined;
    });
  }
}
