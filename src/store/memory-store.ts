/**
 * The Store in memory: for tests, and as the reference for what the interface
 * means. It applies the same key and value checks as SqliteStore.
 */
import type { Store } from './store.ts';
import { checkKey, checkPrefix, checkValue } from './store-checks.ts';
import { StoreError } from './store-error.ts';

export class MemoryStore implements Store {
  readonly #values = new Map<string, string>();
  #closed = false;

  async get(key: string): Promise<string | undefined> {
    this.#checkOpen();
    checkKey(key);
    return Promise.resolve(this.#values.get(key));
  }

  async put(key: string, value: string): Promise<void> {
    this.#checkOpen();
    checkKey(key);
    checkValue(value);
    this.#values.set(key, value);
    return Promise.resolve();
  }

  async delete(key: string): Promise<void> {
    this.#checkOpen();
    checkKey(key);
    this.#values.delete(key);
    return Promise.resolve();
  }

  async list(prefix: string): Promise<string[]> {
    this.#checkOpen();
    checkPrefix(prefix);
    return Promise.resolve([...this.#values.keys()].filter((key) => key.startsWith(prefix)).sort());
  }

  async compareAndSet(key: string, expected: string | undefined, value: string): Promise<boolean> {
    this.#checkOpen();
    checkKey(key);
    checkValue(value);
    // Read and write happen in one synchronous step: nothing can interleave.
    if (this.#values.get(key) !== expected) return Promise.resolve(false);
    this.#values.set(key, value);
    return Promise.resolve(true);
  }

  async close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreError('ERR_STORE_CLOSED', 'The store is closed.');
  }
}
