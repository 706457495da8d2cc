/**
 * The session store's data on Redis besides revocations: used sign-in states
 * (one SET NX each: exactly one instance accepts a callback) and server-side
 * session data (one key per session, expiring with it).
 *
 * Server-side data is written once, at sign-in, and never changes during the
 * session, so each instance keeps what it read (bounded, REDIS_SIDE_DATA_CACHE_*):
 * a session whose groups live server side then costs no Redis round trip per
 * request either, and keeps working through a Redis outage within the grace
 * period as the others do. A revocation drops the entry (`forget`), and the
 * session's own expiry is checked before the data is asked for.
 */
import { GatehouseError } from '../errors/index.ts';
import { REDIS_SIDE_DATA_CACHE_ENTRIES, REDIS_SIDE_DATA_CACHE_SECONDS } from '../limits.ts';
import type { RedisConnection } from '../store/redis-connection.ts';
import { ExpiringMap } from './expiring-map.ts';
import type { SessionKeys } from './redis-session-scripts.ts';
import type { MemorySessionStoreOptions, SessionSideData } from './session-store.ts';

export interface RedisSessionDataOptions extends Pick<MemorySessionStoreOptions, 'onSideDataFull'> {
  readonly onStoreError?: (error: unknown) => void;
  /** Default REDIS_SIDE_DATA_CACHE_ENTRIES; 0 turns the local copy off. */
  readonly sideDataCacheEntries?: number;
}

export class RedisSessionData {
  readonly #redis: RedisConnection;
  readonly #keys: SessionKeys;
  readonly #options: RedisSessionDataOptions;
  readonly #cache: ExpiringMap<string, SessionSideData> | undefined;

  constructor(redis: RedisConnection, keys: SessionKeys, options: RedisSessionDataOptions = {}) {
    this.#redis = redis;
    this.#keys = keys;
    this.#options = options;
    const entries = options.sideDataCacheEntries ?? REDIS_SIDE_DATA_CACHE_ENTRIES;
    this.#cache = entries > 0 ? new ExpiringMap(entries) : undefined;
  }

  async consumeState(stateKey: string, until: number, now: number): Promise<boolean> {
    const expireAt = Math.max(Math.ceil(until), Math.floor(now) + 1);
    // SET NX is the whole decision: exactly one caller, on any instance, gets OK.
    const result = await this.#command(() => this.#redis.client.set(this.#keys.state + stateKey, '1', 'EXAT', expireAt, 'NX'), 'state_store_unreachable');
    return result === 'OK';
  }

  async putSideData(sessionId: string, data: SessionSideData, until: number, now: number): Promise<boolean> {
    if (until <= now) return false;
    const value = JSON.stringify(data);
    try {
      await this.#redis.client.set(this.#keys.side + sessionId, value, 'EXAT', Math.ceil(until));
    } catch (error) {
      // Redis at maxmemory (noeviction) refuses writes: the store is full, as the bounded stores say it.
      if (/\bOOM\b/.test((error as Error).message)) {
        this.#options.onSideDataFull?.({ entries: -1, bytes: -1 });
        return false;
      }
      this.#options.onStoreError?.(error);
      throw unavailable('side_data_unreachable', error);
    }
    this.#cache?.set(sessionId, data, Math.min(until, now + REDIS_SIDE_DATA_CACHE_SECONDS), now);
    return true;
  }

  async getSideData(sessionId: string, now: number, fresh = false): Promise<SessionSideData | undefined> {
    const cached = fresh ? undefined : this.#cache?.get(sessionId, now);
    if (cached) return cached;
    const key = this.#keys.side + sessionId;
    // The value and how long it has left, in one round trip: the local copy must not outlive the key.
    const [value, ttl] = await this.#command(async () => {
      const results = await this.#redis.client.multi().get(key).ttl(key).exec();
      const failed = results?.find(([error]) => error !== null)?.[0];
      if (!results || failed) throw failed ?? new Error('Redis discarded the side data read');
      return [results[0]?.[1] as string | null, results[1]?.[1] as number];
    }, 'side_data_unreachable');
    if (value === null) return undefined;
    let data: SessionSideData;
    try {
      data = JSON.parse(value) as SessionSideData;
    } catch {
      return undefined;
    }
    if (ttl > 0) this.#cache?.set(sessionId, data, now + Math.min(ttl, REDIS_SIDE_DATA_CACHE_SECONDS), now);
    return data;
  }

  /** The session was revoked: its data must not outlive it here. */
  forget(sessionId: string): void {
    this.#cache?.delete(sessionId);
  }

  async #command<T>(run: () => Promise<T>, reason: string): Promise<T> {
    try {
      return await run();
    } catch (error) {
      this.#options.onStoreError?.(error);
      throw unavailable(reason, error);
    }
  }
}

/** The store could not answer: 503, the reason says which part. */
export function unavailable(reason: string, cause?: unknown): GatehouseError {
  return new GatehouseError('ERR_STORE_UNAVAILABLE', reason, cause === undefined ? undefined : { cause });
}
