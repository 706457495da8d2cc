/**
 * The webhook sink's outbox on Redis, for several gateway instances: each
 * instance keeps an outbox of its own (`{<ns>:audit-outbox}:<instance>:…`),
 * drains only that one, and holds a lease on it. When an instance dies its
 * lease lapses, and another instance (or the same one restarted under the same
 * id) adopts what was left, so a crash loses nothing.
 *
 * Per-instance rather than one shared queue: the sink writes on the request
 * path and must never wait for Redis, so this outbox keeps an exact mirror
 * of its lists in memory (it is their only writer) and sends every change
 * after it, in order, on the shared connection. Batches are taken from the
 * mirror, so no instance polls Redis for work and two instances never post
 * the same batch, except after a lease lapsed while its holder was cut off
 * from Redis: then both may send it, with the same event ids.
 *
 * Redis holds, per instance: `batch` (the batch taken, deleted on ack),
 * `waiting` (newest last), `adopted` (taken from a dead instance, until the
 * next full write merges it) and `lease`. When a write fails (Redis
 * unreachable) the lists are written again in full, from the mirror, on the
 * next sweep. Delivery is at-least-once by event id; the order holds within
 * an instance, and adopted events go before those still waiting.
 */
import { randomUUID } from 'node:crypto';
import type { RedisConnection } from '../store/redis-connection.ts';
import type { AuditEvent } from './events.ts';
import { RingQueue, type AuditOutbox, type OutboxListener } from './ring-queue.ts';
import { ADOPT, LOAD, RENEW, RELEASE, TAKE, outboxKeys, type OutboxKeys } from './redis-outbox-scripts.ts';

/** How long an instance's outbox stays its own without a renewal. */
export const AUDIT_OUTBOX_LEASE_MS = 15_000;
/** Events per RPUSH when the lists are written in full. */
const WRITE_CHUNK = 1_000;

export interface RedisOutboxOptions {
  /** Events waiting, at most; the oldest waiting is dropped beyond. */
  readonly capacity: number;
  /** Default: a new random id. An instance restarted under the same id takes its events back at once, not after the lease. */
  readonly instanceId?: string;
  /** Prefix of every Redis key. Default "gatehouse". */
  readonly namespace?: string;
  /** Default AUDIT_OUTBOX_LEASE_MS; the lease is renewed, and dead instances looked for, every third of it. */
  readonly leaseMs?: number;
  /** A Redis write or sweep failed (the outbox retries by itself). */
  readonly onError?: (error: unknown) => void;
}

interface Entry {
  readonly event: AuditEvent;
  readonly text: string;
}

export class RedisOutbox implements AuditOutbox {
  readonly instanceId: string;
  readonly #connection: RedisConnection;
  readonly #namespace: string;
  readonly #keys: OutboxKeys;
  readonly #leaseMs: number;
  readonly #token = randomUUID();
  readonly #onError: (error: unknown) => void;
  readonly #waiting: RingQueue<Entry>;
  #batch: Entry[] = [];
  /** Redis may differ from the mirror: write it in full before anything else. */
  #dirty = true;
  #loaded = false;
  readonly #ready: Promise<void>;
  #sweeping: Promise<void> | undefined;
  readonly #timer: NodeJS.Timeout;
  #listener: OutboxListener | undefined;
  #closed = false;

  constructor(connection: RedisConnection, options: RedisOutboxOptions) {
    this.#connection = connection;
    this.instanceId = options.instanceId ?? randomUUID();
    this.#namespace = options.namespace ?? 'gatehouse';
    this.#keys = outboxKeys(this.#namespace, this.instanceId);
    this.#leaseMs = options.leaseMs ?? AUDIT_OUTBOX_LEASE_MS;
    this.#onError = options.onError ?? (() => undefined);
    this.#waiting = new RingQueue(options.capacity);
    // A process starting may write events before its connection is up: the first sweep waits for it, not for the next timer.
    this.#ready = connection.started().then(
      () => this.#sweep(),
      () => this.#sweep(),
    );
    this.#timer = setInterval(() => void this.#sweep(), Math.max(1, Math.floor(this.#leaseMs / 3)));
    this.#timer.unref();
  }

  /** Resolves after the first sweep: the lease taken, what this instance left before loaded. Never rejects (a failure is retried). */
  ready(): Promise<void> {
    return this.#ready;
  }

  get length(): number {
    return this.#waiting.length;
  }

  watch(listener: OutboxListener): void {
    this.#listener = listener;
  }

  push(event: AuditEvent): AuditEvent | undefined {
    const entry = { event, text: JSON.stringify(event) };
    const evicted = this.#waiting.push(entry);
    this.#write((multi) => (evicted ? multi.lpop(this.#keys.waiting) : multi).rpush(this.#keys.waiting, entry.text));
    return evicted?.event;
  }

  take(count: number): AuditEvent[] {
    const taken: Entry[] = [];
    while (taken.length < count) {
      const entry = this.#waiting.shift();
      if (entry === undefined) break;
      taken.push(entry);
    }
    if (taken.length === 0) return [];
    this.#batch.push(...taken);
    this.#write((multi) => multi.eval(TAKE, 2, this.#keys.waiting, this.#keys.batch, taken.length));
    return taken.map((entry) => entry.event);
  }

  ack(): void {
    this.#batch = [];
    this.#write((multi) => multi.del(this.#keys.batch));
  }

  /** Stops the sweeps and lets the lease go, so another instance adopts what waits at once. Loses nothing Redis got. */
  close(): AuditEvent[] {
    if (this.#closed) return [];
    this.#closed = true;
    clearInterval(this.#timer);
    if (this.#dirty && !this.#connection.up) return [...this.#batch, ...this.#drain()].map((entry) => entry.event);
    // Sent now, before the caller closes the connection: QUIT lets commands already sent finish.
    if (this.#dirty) this.#writeAll();
    this.#connection.client.eval(RELEASE, 1, this.#keys.lease, this.#token).catch(() => undefined);
    return [];
  }

  /** Sends one change after those before it; while Redis differs from the mirror, the next full write carries it instead. */
  #write(change: (multi: ReturnType<RedisConnection['client']['multi']>) => unknown): void {
    if (this.#closed || this.#dirty || !this.#loaded) return;
    const multi = this.#connection.client.multi();
    change(multi);
    this.#exec(multi);
  }

  /** Replaces this instance's lists with the mirror, in one transaction. */
  #writeAll(): void {
    this.#dirty = false;
    const multi = this.#connection.client.multi().del(this.#keys.batch, this.#keys.waiting, this.#keys.adopted);
    for (const [key, entries] of [
      [this.#keys.batch, this.#batch],
      [this.#keys.waiting, this.#peekAll()],
    ] as const) {
      for (let start = 0; start < entries.length; start += WRITE_CHUNK) {
        multi.rpush(key, ...entries.slice(start, start + WRITE_CHUNK).map((entry) => entry.text));
      }
    }
    this.#exec(multi);
  }

  #exec(multi: ReturnType<RedisConnection['client']['multi']>): void {
    multi.exec().then(
      (results) => {
        const failed = results?.find(([error]) => error !== null)?.[0];
        if (results === null || failed) this.#fail(failed ?? new Error('Redis discarded the outbox transaction'));
      },
      (error: unknown) => this.#fail(error),
    );
  }

  #fail(error: unknown): void {
    this.#dirty = true;
    this.#onError(error);
  }

  /** Renews the lease, loads what this instance left (first time), adopts what dead instances left, and writes in full when needed. */
  #sweep(): Promise<void> {
    this.#sweeping ??= this.#sweepOnce()
      .catch((error: unknown) => this.#fail(error))
      .finally(() => (this.#sweeping = undefined));
    return this.#sweeping;
  }

  async #sweepOnce(): Promise<void> {
    if (this.#closed) return;
    const client = this.#connection.client;
    const renewed = await client.eval(RENEW, 2, this.#keys.lease, this.#keys.owners, this.#token, this.#leaseMs, this.instanceId);
    // Lapsed while cut off: another instance may have adopted the lists; the mirror still has every event.
    if (renewed === 0) this.#dirty = true;
    if (!this.#loaded) {
      const left = (await client.eval(LOAD, 3, this.#keys.adopted, this.#keys.batch, this.#keys.waiting)) as string[];
      this.#adopt(left);
      this.#loaded = true;
      this.#dirty = true;
    }
    if (this.#dirty) this.#writeAll();
    for (const other of await client.smembers(this.#keys.owners)) {
      if (other === this.instanceId || this.#closed) continue;
      const room = this.#waiting.capacity - this.#waiting.length;
      if (room <= 0) break;
      const theirs = outboxKeys(this.#namespace, other);
      const keys = [theirs.lease, theirs.adopted, theirs.batch, theirs.waiting, this.#keys.adopted, this.#keys.owners];
      const moved = (await client.eval(ADOPT, keys.length, ...keys, room, other)) as string[];
      if (moved.length === 0) continue;
      this.#adopt(moved);
      // They wait in `adopted` until this full write merges them into the lists.
      if (!this.#dirty) this.#writeAll();
    }
  }

  /** Puts events from Redis in front of those waiting: they are older. What does not fit is dropped, oldest first, and told. */
  #adopt(texts: readonly string[]): void {
    if (texts.length === 0) return;
    const waiting = this.#drain();
    const entries = texts.map((text) => ({ event: JSON.parse(text) as AuditEvent, text }));
    for (const entry of [...entries, ...waiting]) {
      const evicted = this.#waiting.push(entry);
      if (evicted) this.#listener?.dropped(evicted.event);
    }
    this.#listener?.waiting();
  }

  #drain(): Entry[] {
    const entries: Entry[] = [];
    for (let entry = this.#waiting.shift(); entry; entry = this.#waiting.shift()) entries.push(entry);
    return entries;
  }

  #peekAll(): Entry[] {
    const entries = this.#drain();
    for (const entry of entries) this.#waiting.push(entry);
    return entries;
  }
}
