/**
 * The wait for a free tunnel stream, per connector group: when every tunnel
 * of a group carries as many streams as it may, or an app holds its share of
 * them, a request waits here instead of being refused at once. Each app has
 * its own line, first come first served; a free stream goes to the lines in
 * turn, skipping apps that hold their share, so a flood of one app never
 * stands in front of another app's requests. The queue is bounded in length
 * (overall and per app) and in wait; a waiter whose client left leaves at
 * once, so no stream is ever opened for nobody.
 */
import { TUNNEL_QUEUE_WAIT_BUCKETS } from '../limits.ts';
import { abortReason } from './connect-stream.ts';

export interface StreamQueueSettings {
  /** Requests waiting at most; 0: none wait, a full group refuses at once. */
  readonly maxLength: number;
  /** How long one waits at most. */
  readonly maxWaitMs: number;
}

/** How a wait ended, for the metrics. */
export type QueueOutcome = 'served' | 'full' | 'timeout' | 'abandoned' | 'no_tunnel';

export interface QueueStats {
  readonly depth: number;
  readonly outcomes: Readonly<Record<QueueOutcome, number>>;
  /** Seconds waited by every request that left the queue, whatever the outcome. */
  readonly waitedSeconds: number;
  /** Waits of the requests that entered the queue, by TUNNEL_QUEUE_WAIT_BUCKETS (not cumulative; the last one above every bound). */
  readonly waitCounts: readonly number[];
}

/** The refusal of a request the queue turns away (`full`) or gives up on (`timeout`), decided by its owner. */
export type QueueRefusal = (kind: 'full' | 'timeout', app: string) => Error;

interface Waiter<Slot> {
  readonly app: string;
  /** Takes the slot handed over, synchronously, and settles the wait with what `take` gives. */
  readonly serve: (slot: Slot) => void;
  readonly fail: (error: Error, outcome: QueueOutcome) => void;
}

export class StreamQueue<Slot> {
  readonly #settings: StreamQueueSettings;
  readonly #refuse: QueueRefusal;
  /** Each app's line, in the order apps first waited. */
  readonly #lines = new Map<string, Array<Waiter<Slot>>>();
  readonly #outcomes: Record<QueueOutcome, number> = { served: 0, full: 0, timeout: 0, abandoned: 0, no_tunnel: 0 };
  readonly #waitCounts: number[] = new Array<number>(TUNNEL_QUEUE_WAIT_BUCKETS.length + 1).fill(0);
  #length = 0;
  #waitedSeconds = 0;
  /** The app served last: the next free stream is offered to the apps after it first. */
  #lastServed: string | undefined;

  constructor(settings: StreamQueueSettings, refuse: QueueRefusal) {
    this.#settings = settings;
    this.#refuse = refuse;
  }

  get length(): number {
    return this.#length;
  }

  /** Requests of `app` waiting. */
  waitingFor(app: string): number {
    return this.#lines.get(app)?.length ?? 0;
  }

  stats(): QueueStats {
    return { depth: this.#length, outcomes: { ...this.#outcomes }, waitedSeconds: this.#waitedSeconds, waitCounts: [...this.#waitCounts] };
  }

  /**
   * Waits for a slot for `app`; `take` runs synchronously when one is handed
   * over (by `serve`), so that nobody else takes it in between, and its
   * result is the wait's. Rejects with the owner's refusal when the queue, or
   * the app's part of it (`appMaxLength`), is full or the wait expires, and
   * with the signal's reason as soon as the client left.
   */
  wait<T>(app: string, take: (slot: Slot) => Promise<T>, signal: AbortSignal | undefined, appMaxLength = Infinity): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.#length >= this.#settings.maxLength || this.waitingFor(app) >= appMaxLength) {
      this.#count('full', 0);
      return Promise.reject(this.#refuse('full', app));
    }
    return new Promise<T>((resolve, reject) => {
      const enqueued = performance.now();
      const leave = (outcome: QueueOutcome): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#remove(waiter);
        this.#count(outcome, (performance.now() - enqueued) / 1000);
      };
      const waiter: Waiter<Slot> = {
        app,
        serve: (slot) => {
          leave('served');
          let taken: Promise<T>;
          try {
            taken = take(slot);
          } catch (error) {
            taken = Promise.reject(error instanceof Error ? error : new Error(String(error)));
          }
          taken.then(resolve, reject);
        },
        fail: (error, outcome) => {
          leave(outcome);
          reject(error);
        },
      };
      const onAbort = (): void => waiter.fail(abortReason(signal as AbortSignal), 'abandoned');
      const timer = setTimeout(() => waiter.fail(this.#refuse('timeout', app), 'timeout'), this.#settings.maxWaitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      let line = this.#lines.get(app);
      if (!line) {
        line = [];
        this.#lines.set(app, line);
      }
      line.push(waiter);
      this.#length += 1;
    });
  }

  /**
   * Hands `slot` to the oldest waiter of the next app in turn that `eligible`
   * allows (one below its share); false if nobody may take it.
   */
  serve(slot: Slot, eligible: (app: string) => boolean = () => true): boolean {
    const apps = [...this.#lines.keys()];
    const after = this.#lastServed === undefined ? -1 : apps.indexOf(this.#lastServed);
    for (let i = 1; i <= apps.length; i++) {
      const app = apps[(after + i) % apps.length] as string;
      if (!eligible(app)) continue;
      const waiter = this.#lines.get(app)?.[0];
      if (!waiter) continue;
      this.#lastServed = app;
      waiter.serve(slot);
      return true;
    }
    return false;
  }

  /** Fails every waiter: the group has no tunnel left to wait for. */
  failAll(error: () => Error): void {
    for (const line of [...this.#lines.values()]) for (const waiter of [...line]) waiter.fail(error(), 'no_tunnel');
  }

  #remove(waiter: Waiter<Slot>): void {
    const line = this.#lines.get(waiter.app);
    const index = line ? line.indexOf(waiter) : -1;
    if (!line || index < 0) return;
    line.splice(index, 1);
    this.#length -= 1;
    // An app's line lives while it has waiters, so the turn order stays bounded by the apps waiting now.
    if (line.length === 0) this.#lines.delete(waiter.app);
  }

  #count(outcome: QueueOutcome, seconds: number): void {
    this.#outcomes[outcome] += 1;
    this.#waitedSeconds += seconds;
    if (outcome === 'full') return;
    let index = 0;
    while (index < TUNNEL_QUEUE_WAIT_BUCKETS.length && seconds > (TUNNEL_QUEUE_WAIT_BUCKETS[index] as number)) index++;
    (this.#waitCounts[index] as number) += 1;
  }
}
