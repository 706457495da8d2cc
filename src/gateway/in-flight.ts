/**
 * What a server has in flight (its responses, for a graceful shutdown): a
 * doubly linked list whose entries let go of everything when removed.
 *
 * Not a Set, on purpose. A Set that takes one entry and drops it again for
 * every request keeps replacing its hash table as deleted entries fill it,
 * and a replaced table keeps the entries it had and a link to its successor
 * (for iterators still walking it). Once one replaced table had been
 * promoted to V8's old generation, every young-generation collection kept
 * alive, through that chain, the responses of every later request and all
 * they reference, until the next full collection. Measured in the gateway
 * under load: 7–8 MiB promoted and 10–20 ms per scavenge with the Set,
 * nothing promoted and under a millisecond with this list
 * (docs/benchmarks.md, "p99 and the young generation").
 */
interface Entry<T> {
  value: T | undefined;
  prev: Entry<T> | undefined;
  next: Entry<T> | undefined;
}

export class InFlight<T extends object> implements Iterable<T> {
  #head: Entry<T> | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Adds `value`; the function returned removes it (once: calling it again does nothing). */
  add(value: T): () => void {
    const entry: Entry<T> = { value, prev: undefined, next: this.#head };
    if (this.#head) this.#head.prev = entry;
    this.#head = entry;
    this.#size++;
    return () => this.#remove(entry);
  }

  /** What is in flight now, newest first: a copy, so that removing entries while walking it skips nothing. */
  [Symbol.iterator](): Iterator<T> {
    const values: T[] = [];
    for (let entry = this.#head; entry; entry = entry.next) values.push(entry.value as T);
    return values[Symbol.iterator]();
  }

  #remove(entry: Entry<T>): void {
    if (entry.value === undefined) return;
    if (entry.prev) entry.prev.next = entry.next;
    else this.#head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    // A removed entry that the old generation still holds must not lead anywhere.
    entry.value = entry.prev = entry.next = undefined;
    this.#size--;
  }
}
