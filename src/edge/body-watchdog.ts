/**
 * Holds request bodies to a data rate. Every body being received is looked
 * at each BODY_WATCH_TICK_MS by one shared timer: the bytes its socket has
 * read so far, sampled, give the rate over the last `window`. The socket's
 * count is read, not the body stream, so nothing here consumes or slows the
 * body for whoever reads it (the forwarder, a body parser).
 *
 * A body is only blamed for time the gateway was ready for it: while the
 * request's buffer is full (the forwarder waits for the tunnel or the app to
 * take more, so the socket is not read), its window starts again. A body not
 * read at all (a request waiting in the tunnel queue) fills that buffer
 * after a few kilobytes and is left alone meanwhile; the overall `timeout`
 * still counts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { BodyLimitSettings } from '../config/body-limits-schema.ts';
import { InFlight } from '../gateway/in-flight.ts';
import { BODY_WATCH_TICK_MS } from '../limits.ts';

/** Why a body was cut: too slow over its window, or not whole by its deadline. */
export type BodyCutReason = 'body_rate' | 'body_timeout';

/** Told of a body that broke its bounds; it answers and closes (the watchdog has let go of it). */
export type OnSlowBody = (req: IncomingMessage, res: ServerResponse, reason: BodyCutReason, settings: BodyLimitSettings) => void;

export interface BodyWatchdogOptions {
  readonly onSlow: OnSlowBody;
  /** Milliseconds, monotonic. Default performance.now. */
  readonly now?: () => number;
  readonly tickMs?: number;
}

interface Watched {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly settings: BodyLimitSettings;
  readonly startedAt: number;
  /** Pairs of (time, bytes the socket had read): the oldest first, the first one at or before the window's start. */
  samples: number[];
  /** Lets go of it (once). */
  remove: () => void;
}

export class BodyWatchdog {
  // Not a Set: see in-flight.ts for what a Set taking and dropping an entry per request does to the young generation.
  #watched = new InFlight<Watched>();
  readonly #onSlow: OnSlowBody;
  readonly #now: () => number;
  readonly #tickMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: BodyWatchdogOptions) {
    this.#onSlow = options.onSlow;
    this.#now = options.now ?? (() => performance.now());
    this.#tickMs = options.tickMs ?? BODY_WATCH_TICK_MS;
  }

  /** Bodies being watched now. */
  get size(): number {
    return this.#watched.size;
  }

  /** Watches the body of `req` (from now, its headers just parsed) until it has arrived, or its answer went out. */
  watch(req: IncomingMessage, res: ServerResponse, settings: BodyLimitSettings): void {
    if (!hasBody(req) || req.complete || (settings.minRate === false && settings.timeout === false)) return;
    const startedAt = this.#now();
    const watched: Watched = { req, res, settings, startedAt, samples: [startedAt, req.socket.bytesRead], remove: noop };
    watched.remove = this.#watched.add(watched);
    // An exchange that is over is let go of at once, not at the next tick: nothing should keep it alive that long.
    res.once('close', () => watched.remove());
    if (!this.#timer) {
      this.#timer = setInterval(() => this.#tick(), this.#tickMs);
      this.#timer.unref();
    }
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#watched = new InFlight<Watched>();
  }

  #tick(): void {
    const now = this.#now();
    for (const watched of this.#watched) {
      const reason = done(watched) ? 'done' : verdict(watched, now);
      if (reason === undefined) continue;
      watched.remove();
      if (reason !== 'done') this.#onSlow(watched.req, watched.res, reason, watched.settings);
    }
    if (this.#watched.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

function noop(): void {}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** The body arrived, the connection is gone, or the answer was sent (what still comes is the lingering close's). */
function done({ req, res }: Watched): boolean {
  return req.complete || req.socket.destroyed || res.writableFinished;
}

function verdict(watched: Watched, now: number): BodyCutReason | undefined {
  const { req, settings } = watched;
  const elapsed = now - watched.startedAt;
  if (settings.timeout !== false && elapsed >= settings.timeout * 1000) return 'body_timeout';
  const bytes = req.socket.bytesRead;
  if (req.readableLength >= req.readableHighWaterMark) {
    // The gateway is behind, not the client: its socket is not being read.
    watched.samples = [now, bytes];
    return undefined;
  }
  const samples = watched.samples;
  samples.push(now, bytes);
  if (settings.minRate === false || elapsed < settings.grace * 1000) return undefined;
  const windowStart = now - settings.window * 1000;
  // Keep one sample at or before the window's start: the base the rate is measured from.
  let drop = 0;
  while (drop + 2 < samples.length && (samples[drop + 2] ?? now) <= windowStart) drop += 2;
  if (drop > 0) samples.splice(0, drop);
  const [since = now, from = bytes] = samples;
  if (since > windowStart) return undefined;
  return ((bytes - from) * 1000) / (now - since) < settings.minRate ? 'body_rate' : undefined;
}
