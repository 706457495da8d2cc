/**
 * Entries that expire, bounded by count and by approximate size, that never
 * push a live entry out: when full, after dropping what has expired, a new
 * entry is refused instead. Session data is what a live session needs to be
 * read at all (its group list), so evicting it would sign someone out
 * without a word; refusing the newcomer is visible and can be retried.
 */
export class SideDataTable<V> {
  readonly #entries = new Map<string, { readonly value: V; readonly until: number; readonly size: number }>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #sizeOf: (value: V) => number;
  #bytes = 0;

  constructor(options: { readonly maxEntries: number; readonly maxBytes: number; readonly sizeOf: (value: V) => number }) {
    this.#maxEntries = options.maxEntries;
    this.#maxBytes = options.maxBytes;
    this.#sizeOf = options.sizeOf;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Approximate bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** `until` and `now` are epoch seconds. False, and nothing changed, when the entry does not fit. */
  add(key: string, value: V, until: number, now: number): boolean {
    const size = this.#sizeOf(value);
    this.#sweepFront(now);
    if (!this.#fits(key, size)) {
      this.#purgeExpired(now);
      if (!this.#fits(key, size)) return false;
    }
    this.delete(key);
    this.#entries.set(key, { value, until, size });
    this.#bytes += size;
    return true;
  }

  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= now) {
      this.delete(key);
      return undefined;
    }
    return entry.value;
  }

  delete(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    this.#bytes -= entry.size;
  }

  #fits(key: string, size: number): boolean {
    const replaced = this.#entries.get(key);
    const entries = this.#entries.size - (replaced ? 1 : 0);
    const bytes = this.#bytes - (replaced?.size ?? 0);
    return entries < this.#maxEntries && bytes + size <= this.#maxBytes;
  }

  /** Insertion order is close to expiry order, so a few expired entries are dropped from the front on every write. */
  #sweepFront(now: number): void {
    let budget = 16;
    for (const [key, entry] of this.#entries) {
      if (budget-- === 0) break;
      if (entry.until <= now) this.delete(key);
    }
  }

  /** Only when full: every expired entry, wherever it sits (lifetimes differ between apps). */
  #purgeExpired(now: number): void {
    for (const [key, entry] of this.#entries) if (entry.until <= now) this.delete(key);
  }
}
