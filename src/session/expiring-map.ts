/**
 * A Map whose entries expire, with a hard cap on size. Entries are kept in
 * insertion order, which is close to expiry order for our uses, so expired
 * entries are swept from the front on every write.
 */
export class ExpiringMap<K, V> {
  readonly #entries = new Map<K, { value: V; until: number }>();
  readonly #capacity: number;
  readonly #onEvict: ((key: K, value: V) => void) | undefined;

  constructor(capacity: number, onEvict?: (key: K, value: V) => void) {
    this.#capacity = capacity;
    this.#onEvict = onEvict;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** `until` and `now` are epoch seconds. */
  set(key: K, value: V, until: number, now: number): void {
    this.#sweep(now);
    this.#entries.delete(key);
    while (this.#entries.size >= this.#capacity) {
      const oldest = this.#entries.entries().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value[0]);
      this.#onEvict?.(oldest.value[0], oldest.value[1].value);
    }
    this.#entries.set(key, { value, until });
  }

  get(key: K, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  has(key: K, now: number): boolean {
    return this.get(key, now) !== undefined;
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }

  #sweep(now: number): void {
    let budget = 16;
    for (const [key, entry] of this.#entries) {
      if (budget-- === 0) break;
      if (entry.until > now) continue;
      this.#entries.delete(key);
    }
  }
}
