/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential
 * Backoff and Jitter"): the n-th wait is uniform in [0, min(cap, base·2^n)).
 * Jitter spreads the reconnects of many connectors after an outage, so they
 * do not all hit the service in the same second.
 */

export interface BackoffOptions {
  readonly baseMs: number;
  readonly capMs: number;
  /** Uniform in [0, 1). Injected so tests can pin the extremes. */
  readonly random?: () => number;
}

export interface Backoff {
  /** How many waits since the last reset. */
  readonly attempt: number;
  /** The next wait in milliseconds; each call counts one attempt. */
  next(): number;
  /** After a stable period: the next wait starts small again. */
  reset(): void;
}

/** The upper bound of the wait after `attempt` failures. */
export function backoffCeiling(attempt: number, baseMs: number, capMs: number): number {
  // 2^attempt overflows to Infinity long after it passed any cap; min() handles that.
  return Math.min(capMs, baseMs * 2 ** attempt);
}

export function createBackoff(options: BackoffOptions): Backoff {
  const { baseMs, capMs } = options;
  if (!(Number.isFinite(baseMs) && baseMs > 0)) throw new TypeError('backoff baseMs must be a positive number of milliseconds');
  if (!(Number.isFinite(capMs) && capMs >= baseMs)) throw new TypeError('backoff capMs must be a number of milliseconds no smaller than baseMs');
  const random = options.random ?? Math.random;
  let attempt = 0;
  return {
    get attempt() {
      return attempt;
    },
    next() {
      const ceiling = backoffCeiling(attempt, baseMs, capMs);
      attempt += 1;
      const value = random();
      const draw = Number.isFinite(value) ? Math.min(Math.max(value, 0), 1) : 0.5;
      return Math.floor(draw * ceiling);
    },
    reset() {
      attempt = 0;
    },
  };
}
