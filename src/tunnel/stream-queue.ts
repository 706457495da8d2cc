/**
 * The wait for a free tunnel stream, per connector group: when every tunnel
 * of a group carries as many streams as it may, a request waits here, first
 * come first served, instead of being refused at once. The queue is bounded
 * in length and in wait; a waiter whose client left leaves at once, so no
 * stream is ever opened for nobody.
 */
import { TunnelError } from '../errors/tunnel-error.ts';
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
}

interface Waiter<Slot> {
  /** Takes the slot handed over, synchronously, and settles the wait with what `take` gives. */
  readonly serve: (slot: Slot) => void;
  readonly fail: (error: Error, outcome: QueueOutcome) => void;
}

export class StreamQueue<Slot> {
  readonly #settings: StreamQueueSettings;
  readonly #group: string;
  readonly #waiters: Array<Waiter<Slot>> = [];
  readonly #outcomes: Record<QueueOutcome, number> = { served: 0, full: 0, timeout: 0, abandoned: 0, no_tunnel: 0 };
  #waitedSeconds = 0;

  constructor(group: string, settings: StreamQueueSettings) {
    this.#group = group;
    this.#settings = settings;
  }

  get length(): number {
    return this.#waiters.length;
  }

  stats(): QueueStats {
    return { depth: this.#waiters.length, outcomes: { ...this.#outcomes }, waitedSeconds: this.#waitedSeconds };
  }

  /**
   * Waits for a slot; `take` runs synchronously when one is handed over (by
   * `serve`), so that nobody else takes it in between, and its result is the
   * wait's. Rejects with a TunnelError when the queue is full or the wait
   * expires, or with the signal's reason as soon as the client left.
   */
  wait<T>(take: (slot: Slot) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.#waiters.length >= this.#settings.maxLength) {
      this.#count('full', 0);
      return Promise.reject(this.#refusal('queue_full', 'Every tunnel of the group is at its stream limit and its queue is full.'));
    }
    return new Promise<T>((resolve, reject) => {
      const enqueued = performance.now();
      const leave = (outcome: QueueOutcome): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        this.#count(outcome, (performance.now() - enqueued) / 1000);
      };
      const waiter: Waiter<Slot> = {
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
      const timer = setTimeout(
        () => waiter.fail(this.#refusal('queue_timeout', 'No tunnel stream of the group became free in time.'), 'timeout'),
        this.#settings.maxWaitMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Hands `slot` to the oldest waiter; false if nobody waits. */
  serve(slot: Slot): boolean {
    const waiter = this.#waiters[0];
    if (!waiter) return false;
    waiter.serve(slot);
    return true;
  }

  /** Fails every waiter: the group has no tunnel left to wait for. */
  failAll(error: () => Error): void {
    for (const waiter of [...this.#waiters]) waiter.fail(error(), 'no_tunnel');
  }

  #count(outcome: QueueOutcome, seconds: number): void {
    this.#outcomes[outcome] += 1;
    this.#waitedSeconds += seconds;
  }

  #refusal(reason: string, message: string): TunnelError {
    return new TunnelError('ERR_TUNNEL_STREAM_LIMIT', `${message} (group "${this.#group}")`, { beforeUpstream: true, reason });
  }
}
