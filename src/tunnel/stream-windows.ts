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
 * slack, once the count has stayed low for a while: requests come and go in
 * batches, and a count that swings past a step many times a second would
 * otherwise cost a SETTINGS frame at each swing.
 */
import type { Http2Session, Http2Stream } from 'node:http2';
import {
  TUNNEL_MAX_OUTSTANDING_SETTINGS,
  TUNNEL_MIN_STREAM_WINDOW_BYTES,
  TUNNEL_STREAM_BUFFER_BYTES,
  TUNNEL_STREAM_WINDOW_BYTES,
  TUNNEL_WINDOW_GROW_DELAY_MS,
} from '../limits.ts';

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

/** How fast the windows follow the count: the delay before growing, and the SETTINGS allowed in flight. */
export interface StreamWindowsPacing {
  /** How long the count must stay low before the window grows. Default TUNNEL_WINDOW_GROW_DELAY_MS. */
  readonly growDelayMs?: number;
  /** SETTINGS sent and not yet acknowledged, at most. Default MAX_PENDING_WINDOW_SETTINGS. */
  readonly maxPendingSettings?: number;
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
  readonly #growDelayMs: number;
  readonly #maxPending: number;
  /** Set while a growth waits for the count to stay low. */
  #growTimer: NodeJS.Timeout | undefined;
  /** The most streams counted since the growth began to wait. */
  #peak = 0;
  /** The count last fitted. */
  #last = 0;

  /** `session` advertised `initialWindow` in its first SETTINGS. */
  constructor(session: Http2Session, options: StreamWindowsOptions & StreamWindowsPacing = {}, initialWindow: number = TUNNEL_STREAM_WINDOW_BYTES) {
    this.#session = session;
    this.#window = initialWindow;
    this.#options = options;
    this.#growDelayMs = options.growDelayMs ?? TUNNEL_WINDOW_GROW_DELAY_MS;
    this.#maxPending = options.maxPendingSettings ?? MAX_PENDING_WINDOW_SETTINGS;
    session.once('close', () => clearTimeout(this.#growTimer));
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
   * could hold more than the budget. Grows it only once twice as many as
   * were counted over the last `growDelayMs` would still fit, so that a count
   * swinging around a step does not send a SETTINGS frame at each swing.
   */
  fit(streams: number): void {
    this.#last = streams;
    this.#peak = Math.max(this.#peak, streams);
    const safe = windowFor(streams, this.#options);
    if (safe < this.window) this.#advertise(safe);
    else if (this.#relaxed(streams) > this.window && this.#growTimer === undefined) {
      this.#peak = streams;
      this.#growTimer = setTimeout(() => this.#grow(), this.#growDelayMs);
      this.#growTimer.unref();
    }
  }

  #relaxed(streams: number): number {
    return windowFor(streams * 2, this.#options);
  }

  #grow(): void {
    this.#growTimer = undefined;
    const relaxed = this.#relaxed(this.#peak);
    if (relaxed > this.window) this.#advertise(relaxed);
    // The count went up meanwhile and has come down since: wait for it to stay down.
    if (this.#relaxed(this.#last) > this.window) this.fit(this.#last);
  }

  #advertise(window: number): void {
    const session = this.#session;
    if (session.destroyed || session.closed) return;
    if (this.#pending >= this.#maxPending) {
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
