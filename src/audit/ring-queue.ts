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
