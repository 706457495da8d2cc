import type { AuditEvent } from './events.ts';

/**
 * A fixed-capacity FIFO over a circular array: push, shift and unshift are
 * O(1) and memory never grows past the capacity given at construction.
 */
export class RingQueue<T> {
  readonly #items: (T | undefined)[];
  #head = 0;
  #length = 0;

  constructor(capacity: number) {
    this.#items = new Array<T | undefined>(capacity).fill(undefined);
  }

  get length(): number {
    return this.#length;
  }

  get capacity(): number {
    return this.#items.length;
  }

  /** Appends; when full, the oldest item makes room and is returned. */
  push(item: T): T | undefined {
    let evicted: T | undefined;
    if (this.#length === this.#items.length) evicted = this.shift();
    this.#items[(this.#head + this.#length) % this.#items.length] = item;
    this.#length += 1;
    return evicted;
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#items.length;
    this.#length -= 1;
    return item;
  }

  /** Puts an item back in front (it becomes the oldest); false when full. */
  unshift(item: T): boolean {
    if (this.#length === this.#items.length) return false;
    this.#head = (this.#head - 1 + this.#items.length) % this.#items.length;
    this.#items[this.#head] = item;
    this.#length += 1;
    return true;
  }
}

/**
 * Where the webhook sink keeps events until the receiver acknowledged them:
 * in memory, or in the state database (src/audit/sqlite-outbox.ts). The
 * sink takes a batch, and acks it once the receiver answered for it; the
 * bound applies to the events still waiting, not to the batch taken.
 */
export interface AuditOutbox {
  /** Events waiting (not counting the batch taken). */
  readonly length: number;
  /** Appends; when `capacity` events wait, the oldest waiting one is removed and returned. Throws when the event cannot be kept (not JSON, storage failed). */
  push(event: AuditEvent): AuditEvent | undefined;
  /** Takes up to `count` of the oldest waiting events, in order, as the next batch. */
  take(count: number): AuditEvent[];
  /** The batch taken is done with (delivered, or refused for good): forget it. */
  ack(): void;
  /** Lets go; returns the events this lost (memory keeps nothing past the process, the database keeps all for the next start). */
  close(): AuditEvent[];
  /** For an outbox that finds events later than it was built (Redis: what a dead instance left): told when they wait, and of any dropped to make room. */
  watch?(listener: OutboxListener): void;
}

export interface OutboxListener {
  waiting(): void;
  dropped(event: AuditEvent): void;
}

/** The outbox in memory: fast, and lost with the process. */
export class MemoryOutbox implements AuditOutbox {
  readonly #queue: RingQueue<AuditEvent>;
  #taken: AuditEvent[] = [];

  constructor(capacity: number) {
    this.#queue = new RingQueue(capacity);
  }

  get length(): number {
    return this.#queue.length;
  }

  push(event: AuditEvent): AuditEvent | undefined {
    return this.#queue.push(event);
  }

  take(count: number): AuditEvent[] {
    const batch: AuditEvent[] = [];
    while (batch.length < count) {
      const event = this.#queue.shift();
      if (event === undefined) break;
      batch.push(event);
    }
    this.#taken = batch;
    return [...batch];
  }

  ack(): void {
    this.#taken = [];
  }

  close(): AuditEvent[] {
    const lost = this.#taken;
    this.#taken = [];
    for (let event = this.#queue.shift(); event; event = this.#queue.shift()) lost.push(event);
    return lost;
  }
}
