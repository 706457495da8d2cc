import { Agent, fetch as undiciFetch } from 'undici';
import { systemClock } from '../clock.ts';
import { createBackoff, type Backoff } from '../backoff.ts';
import { AUDIT_CLOSE_DEADLINE_MS } from '../limits.ts';
import { DropCounter } from './drop-counter.ts';
import type { AuditEvent, AuditSink } from './events.ts';
import { MemoryOutbox, type AuditOutbox } from './ring-queue.ts';
import { SqliteOutbox } from './sqlite-outbox.ts';
import { parseWebhookOptions, type DurableWebhookSinkOptions, type WebhookFetch, type WebhookSettings, type WebhookSinkOptions } from './webhook-options.ts';
import { postBatch } from './webhook-post.ts';

export interface WebhookSinkStats {
  /** Waiting in the queue (not counting a batch on the wire or waiting to be retried). */
  readonly queued: number;
  /** In the batch on the wire or waiting for its retry. */
  readonly inFlight: number;
  readonly delivered: number;
  readonly dropped: number;
  /** POSTs made, retries included. */
  readonly posts: number;
  readonly retries: number;
}

/** An audit sink that POSTs events in batches with retries; it never blocks a request, and drops (and counts) the oldest when its queue is full. */
export interface WebhookSink extends AuditSink {
  flush(timeoutMs?: number): Promise<boolean>;
  close(timeoutMs?: number): Promise<void>;
  stats(): WebhookSinkStats;
}

/**
 * Audit events POSTed to an HTTP receiver as JSON arrays (a SIEM's
 * collector, e.g. Splunk HEC or an Elastic ingest endpoint behind a small
 * adapter).
 *
 * - `write()` is synchronous and O(1): it appends to a bounded queue and at
 *   most arms a timer. No request ever waits for the receiver.
 * - One batch is on the wire at a time, so events arrive in the order they
 *   were written. A batch goes out when `batchSize` events are waiting or
 *   `flushIntervalMs` after the first of them.
 * - A failed batch (network error, timeout, 5xx, 401/403/404/408/429, …)
 *   is kept (at most `batchSize` events, outside the queue) and sent again
 *   after a full-jitter exponential backoff, capped, honouring Retry-After
 *   up to the cap; the queue waits behind it. A batch the receiver refuses as
 *   malformed (400, 413, 422) is dropped, since sending it again cannot
 *   succeed.
 * - When the queue is full the OLDEST waiting event is dropped. The queue
 *   only fills while the receiver is down or slower than the gateway; the
 *   SIEM then needs the freshest events first, to see an attack that is
 *   still going on, and an attacker who floods the log to get ahead of the
 *   queue cannot push out what they do next. The lost range is named in the
 *   `audit.dropped` event that opens the next batch (and kept in full by the
 *   local JSON-lines or file sink).
 * - With `outboxPath` every event is a row in the state database from
 *   `write()` until the receiver acknowledged (2xx) or refused for good the
 *   batch it went in: a crash loses nothing, and at the next start what is
 *   pending goes first. A crash after the 2xx and before the delete sends
 *   that batch again: delivery is at-least-once, by event `id`.
 * - `flush()` and `close()` send what is waiting at once and wait up to a
 *   deadline; `close()` then counts what is left as dropped (in memory), or
 *   leaves it in the outbox for the next start.
 */
export function webhookSink(options: DurableWebhookSinkOptions): WebhookSink {
  const { outboxPath, outbox: makeOutbox, ...rest } = options;
  const settings = parseWebhookOptions(rest);
  const outbox =
    makeOutbox?.(settings.maxQueue) ?? (outboxPath === undefined ? new MemoryOutbox(settings.maxQueue) : SqliteOutbox.open(outboxPath, settings.maxQueue));
  return new WebhookQueue(settings, rest, outbox);
}

class WebhookQueue implements WebhookSink {
  readonly #settings: WebhookSettings;
  readonly #fetch: WebhookFetch;
  readonly #agent: Agent | undefined;
  readonly #headers: Record<string, string>;
  readonly #onError: NonNullable<WebhookSinkOptions['onError']>;
  readonly #queue: AuditOutbox;
  readonly #drops: DropCounter;
  readonly #backoff: Backoff;
  readonly #abort = new AbortController();
  /** The batch on the wire, or waiting for its retry. */
  #batch: AuditEvent[] | undefined;
  /** The batch opens with the in-band drop report, which is not in the outbox. */
  #batchReport: AuditEvent | undefined;
  #sending: Promise<void> | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  /** flush() calls waiting: while any is, batches go out without waiting for the interval. */
  readonly #idleWaiters = new Set<() => void>();
  #closing: Promise<void> | undefined;
  #delivered = 0;
  #posts = 0;
  #retries = 0;

  constructor(settings: WebhookSettings, options: WebhookSinkOptions, outbox: AuditOutbox) {
    this.#settings = settings;
    if (options.fetch) {
      this.#fetch = options.fetch;
    } else if (settings.ca !== undefined) {
      // The global fetch cannot take a CA; undici's own fetch with its own Agent can.
      const agent = new Agent({ connect: { ca: typeof settings.ca === 'string' ? settings.ca : [...settings.ca] } });
      this.#agent = agent;
      this.#fetch = (url, init) => undiciFetch(url, { ...init, dispatcher: agent });
    } else {
      this.#fetch = (url, init) => fetch(url, init);
    }
    this.#headers = { ...settings.headers, 'content-type': 'application/json', 'user-agent': 'gatehouse-audit' };
    this.#onError = options.onError ?? (() => {});
    this.#queue = outbox;
    this.#drops = new DropCounter({ sink: 'webhook', clock: options.clock ?? systemClock, onDrop: options.onDrop });
    this.#backoff = createBackoff({ baseMs: settings.retryBaseMs, capMs: settings.retryCapMs, ...(options.random ? { random: options.random } : {}) });
    // What an earlier process left in the outbox goes first; an outbox that finds events later says so.
    outbox.watch?.({ waiting: () => this.#schedule(), dropped: (event) => this.#drops.record('queue_full', event) });
    this.#schedule();
  }

  write(event: AuditEvent): void {
    if (this.#closing) return this.#drops.record('closed', event);
    let evicted: AuditEvent | undefined;
    try {
      evicted = this.#queue.push(event);
    } catch {
      // Not JSON, or the state database refused the row: counted, never thrown at the request path.
      return this.#drops.record('unserializable', event);
    }
    if (evicted) this.#drops.record('queue_full', evicted);
    this.#schedule();
  }

  flush(timeoutMs = AUDIT_CLOSE_DEADLINE_MS): Promise<boolean> {
    if (this.#idle()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#idleWaiters.delete(done);
        resolve(this.#idle());
      };
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      this.#idleWaiters.add(done);
      this.#schedule();
    });
  }

  close(timeoutMs = AUDIT_CLOSE_DEADLINE_MS): Promise<void> {
    this.#closing ??= this.#close(timeoutMs);
    return this.#closing;
  }

  stats(): WebhookSinkStats {
    return {
      queued: this.#queue.length,
      inFlight: this.#batch?.length ?? 0,
      delivered: this.#delivered,
      dropped: this.#drops.total,
      posts: this.#posts,
      retries: this.#retries,
    };
  }

  async #close(timeoutMs: number): Promise<void> {
    await this.flush(timeoutMs);
    clearTimeout(this.#flushTimer);
    clearTimeout(this.#retryTimer);
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#flushTimer = this.#retryTimer = this.#immediate = undefined;
    this.#abort.abort(new Error('audit webhook sink closed'));
    await this.#sending;
    if (this.#batch !== undefined && this.#batchReport !== undefined) this.#drops.record('closed', this.#batchReport);
    this.#batch = this.#batchReport = undefined;
    for (const event of this.#queue.close()) this.#drops.record('closed', event);
    this.#drops.close();
    await this.#agent?.close();
  }

  #idle(): boolean {
    return this.#queue.length === 0 && this.#batch === undefined && !this.#drops.hasInBandReport;
  }

  /** Decides when the next batch goes: O(1), so write() can call it. */
  #schedule(): void {
    if (this.#batch !== undefined || this.#abort.signal.aborted) return; // the batch's end schedules the next
    if (this.#queue.length === 0 && !this.#drops.hasInBandReport) return;
    if (this.#queue.length >= this.#settings.batchSize || this.#idleWaiters.size > 0) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
      // Not now: write() runs on the request path, and building a batch is O(batchSize).
      this.#immediate ??= setImmediate(() => {
        this.#immediate = undefined;
        this.#sendNext();
      });
      return;
    }
    if (this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(() => {
        this.#flushTimer = undefined;
        this.#sendNext();
      }, this.#settings.flushIntervalMs);
      this.#flushTimer.unref();
    }
  }

  #sendNext(): void {
    if (this.#sending !== undefined || this.#retryTimer !== undefined || this.#abort.signal.aborted) return;
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#batch === undefined) {
      const report = this.#drops.takeInBandEvent();
      const batch = report ? [report, ...this.#queue.take(this.#settings.batchSize - 1)] : this.#queue.take(this.#settings.batchSize);
      if (batch.length === 0) return this.#settle();
      this.#batch = batch;
      this.#batchReport = report;
    }
    const batch = this.#batch;
    this.#sending = this.#deliver(batch)
      // #deliver handles every failure it knows; anything else must not become an unhandled rejection on a timer.
      .catch((error: unknown) => this.#report({ error, events: batch.length, attempt: 0, permanent: false }))
      .finally(() => {
        this.#sending = undefined;
      });
  }

  async #deliver(batch: AuditEvent[]): Promise<void> {
    const outcome = await postBatch({
      fetch: this.#fetch,
      url: this.#settings.url,
      headers: this.#headers,
      body: this.#serialize(batch),
      timeoutMs: this.#settings.timeoutMs,
      signal: this.#abort.signal,
    });
    this.#posts += 1;
    if (this.#abort.signal.aborted) return; // close() counts the batch
    if (outcome.kind === 'delivered' || outcome.kind === 'rejected') {
      this.#batch = this.#batchReport = undefined;
      this.#queue.ack();
      this.#backoff.reset();
      if (outcome.kind === 'delivered') this.#delivered += batch.length;
      else {
        for (const event of batch) this.#drops.record('rejected', event);
        this.#report({ status: outcome.status, events: batch.length, attempt: 1, permanent: true });
      }
      this.#schedule();
      this.#settle();
      return;
    }
    // Events written since keep waiting behind this batch: one batch at a time keeps the order.
    this.#retries += 1;
    const attempt = this.#backoff.attempt + 1;
    const retryInMs = Math.min(this.#settings.retryCapMs, Math.max(this.#backoff.next(), outcome.retryAfterMs ?? 0));
    this.#report({
      ...(outcome.status === undefined ? { error: outcome.error } : { status: outcome.status }),
      events: batch.length,
      attempt,
      permanent: false,
      retryInMs,
    });
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#sendNext();
    }, retryInMs);
    this.#retryTimer.unref();
  }

  /** The batch as a JSON array; an event JSON cannot represent (a cycle, a BigInt) is taken out and counted, not allowed to crash the process. */
  #serialize(batch: AuditEvent[]): string {
    try {
      return JSON.stringify(batch);
    } catch {
      const lines: string[] = [];
      for (let index = batch.length - 1; index >= 0; index -= 1) {
        const event = batch[index] as AuditEvent;
        try {
          lines.unshift(JSON.stringify(event));
        } catch {
          batch.splice(index, 1);
          this.#drops.record('unserializable', event);
        }
      }
      return `[${lines.join(',')}]`;
    }
  }

  #report(failure: Parameters<NonNullable<WebhookSinkOptions['onError']>>[0]): void {
    try {
      this.#onError(failure);
    } catch {
      // A listener's failure must not stop delivery.
    }
  }

  #settle(): void {
    if (!this.#idle()) return;
    for (const done of [...this.#idleWaiters]) done();
  }
}
