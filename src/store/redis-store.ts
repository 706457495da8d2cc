/**
 * The Store on Redis, for several gateway instances sharing one connector
 * plane. Each key is a Redis string under `{<namespace>:kv}:`; a sorted set
 * (`{<namespace>:kv}-keys`, every score 0) indexes them, so `list(prefix)` is
 * one ZRANGEBYLEX range and never walks the keyspace (no KEYS, no SCAN, no
 * glob to escape). Every write changes the value and the index in one Lua
 * script: Redis runs a script alone, so compare-and-set is atomic across
 * processes and the index never disagrees with the values.
 *
 * "Durable when the promise resolves" means Redis acknowledged the write.
 * Whether it survives a Redis restart is Redis's persistence, the
 * operator's choice: with `appendonly yes` and `appendfsync always` it is on
 * disk; with `everysec` (Redis's default when AOF is on) a Redis crash may
 * lose the last second; with no persistence a Redis restart loses it all,
 * the connector CA included, and every connector must register again.
 *
 * The connection is shared and stays open after close() unless the store
 * was told it owns it. While Redis is unreachable every call rejects at
 * once with ERR_STORE_UNUSABLE (the connection queues nothing).
 */
import type { RedisConnection } from './redis-connection.ts';
import type { Store } from './store.ts';
import { checkKey, checkPrefix, checkValue } from './store-checks.ts';
import { StoreError } from './store-error.ts';

export interface RedisStoreOptions {
  /** Prefix of every Redis key, so deployments can share one Redis. Default "gatehouse"; "{gatehouse}" keeps them in one Redis Cluster slot. */
  readonly namespace?: string;
  /** close() closes the connection too. Default false. */
  readonly ownsConnection?: boolean;
}

// KEYS[1] value, KEYS[2] index; ARGV[1] store key, ARGV[2] value.
const PUT = `redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 1`;

// KEYS[1] value, KEYS[2] index; ARGV[1] store key.
const DELETE = `redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1`;

// KEYS[1] value, KEYS[2] index; ARGV[1] store key, ARGV[2] "1" when a value is expected, ARGV[3] expected, ARGV[4] new value.
const COMPARE_AND_SET = `local current = redis.call('GET', KEYS[1])
if ARGV[2] == '1' then
  if current ~= ARGV[3] then return 0 end
elseif current then
  return 0
end
redis.call('SET', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 1`;

/** Above every byte UTF-8 ever uses: `[prefix` to `[prefix\xff` is every member starting with the prefix. */
const PAST_UTF8 = Buffer.from([0xff]);

export class RedisStore implements Store {
  readonly #connection: RedisConnection;
  readonly #ownsConnection: boolean;
  readonly #valuePrefix: string;
  readonly #indexKey: string;
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed: Promise<void> | undefined;

  constructor(connection: RedisConnection, options: RedisStoreOptions = {}) {
    const namespace = options.namespace ?? 'gatehouse';
    this.#connection = connection;
    this.#ownsConnection = options.ownsConnection ?? false;
    // One hash tag: on a Redis Cluster a value and the index share a slot, so one script writes both.
    this.#valuePrefix = `{${namespace}:kv}:`;
    this.#indexKey = `{${namespace}:kv}-keys`;
  }

  async get(key: string): Promise<string | undefined> {
    this.#checkOpen();
    await this.#connection.started();
    checkKey(key);
    const value = await this.#run(this.#connection.client.get(this.#valuePrefix + key));
    return value ?? undefined;
  }

  async put(key: string, value: string): Promise<void> {
    this.#checkOpen();
    await this.#connection.started();
    checkKey(key);
    checkValue(value);
    await this.#run(this.#connection.client.eval(PUT, 2, this.#valuePrefix + key, this.#indexKey, key, value));
  }

  async delete(key: string): Promise<void> {
    this.#checkOpen();
    await this.#connection.started();
    checkKey(key);
    await this.#run(this.#connection.client.eval(DELETE, 2, this.#valuePrefix + key, this.#indexKey, key));
  }

  async list(prefix: string): Promise<string[]> {
    this.#checkOpen();
    await this.#connection.started();
    checkPrefix(prefix);
    const client = this.#connection.client;
    const range =
      prefix === ''
        ? client.zrangebylex(this.#indexKey, '-', '+')
        : client.zrangebylex(this.#indexKey, `[${prefix}`, Buffer.concat([Buffer.from(`[${prefix}`), PAST_UTF8]));
    const keys = await this.#run(range);
    // Redis orders by UTF-8 bytes, JavaScript by UTF-16 units: sort as MemoryStore does.
    return keys.sort();
  }

  async compareAndSet(key: string, expected: string | undefined, value: string): Promise<boolean> {
    this.#checkOpen();
    await this.#connection.started();
    checkKey(key);
    checkValue(value);
    const script = this.#connection.client.eval(
      COMPARE_AND_SET,
      2,
      this.#valuePrefix + key,
      this.#indexKey,
      key,
      expected === undefined ? '0' : '1',
      expected ?? '',
      value,
    );
    return (await this.#run(script)) === 1;
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
    if (this.#ownsConnection) await this.#connection.close();
  }

  /** Tracks the command for close(), and gives a failure the store's error code. */
  async #run<T>(command: Promise<T>): Promise<T> {
    this.#inFlight.add(command);
    try {
      return await command;
    } catch (error) {
      throw new StoreError('ERR_STORE_UNUSABLE', `Redis did not answer the store (${(error as Error).message}).`, { cause: error });
    } finally {
      this.#inFlight.delete(command);
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreError('ERR_STORE_CLOSED', 'The store is closed.');
  }
}
