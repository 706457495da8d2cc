/**
 * What every request and WebSocket of the soak ended as. Allowed: success
 * with the right body, a clear 502/503/504 carrying a Gatehouse error code,
 * and (for a response already under way) a body cut off by a connection
 * reset while a chaos step was killing the data path. Anything else is a
 * failure, kept with its time and what happened.
 */
export type Kind = 'get' | 'post' | 'download' | 'upload' | 'ws-open' | 'ws-message' | 'ws-close';

export interface Failure {
  readonly kind: Kind;
  readonly atMs: number;
  readonly what: string;
}

/** A span of the run when a chaos step may cut data in flight (a connector killed, the backend restarted). */
export interface Window {
  readonly name: string;
  readonly fromMs: number;
  toMs: number;
}

/** How long after a data-path step ends a cut body is still put down to it: the heartbeat that notices a dead tunnel, plus slack. */
const CUT_GRACE_MS = 5_000;

export class Tally {
  readonly started = Date.now();
  readonly ok = new Map<Kind, number>();
  /** "503 ERR_NO_CONNECTOR" → count. */
  readonly clear = new Map<string, number>();
  /** Bodies cut after their headers while a data-path step was under way, by kind and step. */
  readonly cut = new Map<string, number>();
  /** What the first few cuts were, for the report. */
  readonly cutSamples: string[] = [];
  /** Requests on a reused keep-alive socket that the server had just closed, retried once (Node's documented client race). */
  staleRetries = 0;
  readonly failures: Failure[] = [];
  failureCount = 0;
  readonly windows: Window[] = [];

  now(): number {
    return Date.now() - this.started;
  }

  success(kind: Kind): void {
    this.ok.set(kind, (this.ok.get(kind) ?? 0) + 1);
  }

  refused(kind: Kind, status: number, code: string): void {
    const key = kind === 'ws-close' ? `ws closed ${status}` : `${kind === 'ws-open' ? 'ws upgrade ' : ''}${status} ${code}`;
    this.clear.set(key, (this.clear.get(key) ?? 0) + 1);
  }

  /** Told of each failure as it happens (the soak then notes what the gateway held at that moment). */
  onFailure: ((failure: Failure) => void) | undefined;

  fail(kind: Kind, what: string): void {
    this.failureCount += 1;
    const failure = { kind, atMs: this.now(), what };
    if (this.failures.length < 50) this.failures.push(failure);
    this.onFailure?.(failure);
  }

  /** A body cut after its headers: allowed within a data-path window, else a failure. */
  cutBody(kind: Kind, what: string): void {
    const at = this.now();
    // The latest step that had begun by then: a cut is put down to the most recent cause.
    const window = this.windows.findLast((candidate) => at >= candidate.fromMs - 1_000 && at <= candidate.toMs + CUT_GRACE_MS);
    if (window) {
      const key = `${kind} by "${window.name}"`;
      this.cut.set(key, (this.cut.get(key) ?? 0) + 1);
      if (this.cutSamples.length < 10) this.cutSamples.push(`${(at / 1000).toFixed(1)} s ${what}`);
    } else this.fail(kind, `${what} (cut outside any chaos step)`);
  }

  openWindow(name: string): Window {
    const window = { name, fromMs: this.now(), toMs: Number.POSITIVE_INFINITY };
    this.windows.push(window);
    return window;
  }

  /** Requests so far, whatever their outcome. */
  total(): number {
    return sum(this.ok.values()) + sum(this.clear.values()) + sum(this.cut.values()) + this.failureCount;
  }

  refusedTotal(): number {
    return sum(this.clear.values());
  }
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}
