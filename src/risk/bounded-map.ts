/**
 * A Map that holds at most `capacity` keys and forgets the least recently
 * touched one first. A Map iterates in insertion order, so re-inserting on
 * touch keeps the least recent key first: every operation is O(1).
 */
export class BoundedMap<K, V> {
  readonly #capacity: number;
  readonly #entries = new Map<K, V>();
  #evicted = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Keys forgotten to stay within capacity, since creation. */
  get evicted(): number {
    return this.#evicted;
  }

  /** Reads without changing the eviction order. */
  peek(key: K): V | undefined {
    return this.#entries.get(key);
  }

  /** Reads and marks the key as the most recently used. */
  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  /** Stores as the most recently used, evicting the least recently used key when full. */
  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    while (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
      this.#evicted += 1;
    }
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }

  values(): IterableIterator<V> {
    return this.#entries.values();
  }

  entries(): IterableIterator<[K, V]> {
    return this.#entries.entries();
  }
}
