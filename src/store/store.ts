/**
 * The service's durable state: the connector CA, registered
 * connectors, config versions. Narrow on purpose, so that a shared store
 * (Redis: GET, SET, DEL, SCAN, a WATCH/MULTI or Lua compare-and-set) can
 * implement it later for several service instances.
 */
export interface Store {
  /** Values are JSON strings; keys look like "ca" or "connector:<id>". */
  get(key: string): Promise<string | undefined>;
  /** Durable when the promise resolves: a crash after that loses nothing. */
  put(key: string, value: string): Promise<void>;
  /** Deleting an absent key is not an error. */
  delete(key: string): Promise<void>;
  /** Keys starting with `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Atomic compare-and-set: writes only when the current value equals `expected` (undefined = absent). Resolves whether it wrote. */
  compareAndSet(key: string, expected: string | undefined, value: string): Promise<boolean>;
  /** Waits for writes in flight, then releases the store; later calls reject with ERR_STORE_CLOSED. */
  close(): Promise<void>;
}
