/**
 * This instance's token buckets, one per limit and client source, in a
 * table of bounded size. Deciding is a Map lookup and some arithmetic: no
 * timer, no promise, nothing allocated for a request refused.
 */
import type { RateBucket } from '../config/rate-limit-schema.ts';

/** How many of the oldest buckets a full table looks at for an idle one to evict before it evicts the oldest. */
const EVICTION_PROBE = 8;

/** A bucket may owe at most this many bursts: what other instances let through before they heard (see adopt()). */
const MAX_DEBT_BURSTS = 10;

export interface Bucket {
  /** Requests it may still let through; below zero when the shared bucket says more went through than allowed. */
  tokens: number;
  /** When `tokens` was last brought up to date, in the clock's milliseconds. */
  at: number;
  /** Requests let through here since the shared bucket was last told (with Redis only). */
  pending: number;
  /** The limit it was last used with (a reload may change it). */
  limit: RateBucket;
}

/** A bucket brought up to `now`: refilled at its rate, up to its burst. A clock that went back refills nothing. */
export function refill(bucket: Bucket, limit: RateBucket, now: number): void {
  const elapsed = now - bucket.at;
  if (elapsed > 0) bucket.tokens = Math.min(limit.burst, bucket.tokens + (elapsed * limit.perSecond) / 1000);
  bucket.at = now;
}

/** Whole seconds until the bucket holds a token again, at least 1: the `Retry-After` of a refusal. */
export function secondsUntilToken(bucket: Bucket, limit: RateBucket): number {
  return Math.max(1, Math.ceil((1 - bucket.tokens) / limit.perSecond));
}

export class RateLimitTable {
  readonly #buckets = new Map<string, Bucket>();
  #evictions = 0;

  /** Buckets kept now. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Buckets evicted to make room since start. */
  get evictions(): number {
    return this.#evictions;
  }

  /**
   * Takes a token for one request: 0 when it may go on, else the seconds until it may. `peek` refuses an empty
   * bucket without taking from a full one (the caller charges later, if the request turns out to be one to count).
   */
  take(key: string, limit: RateBucket, now: number, maxBuckets: number, peek = false): number {
    const bucket = this.#bucket(key, limit, now, maxBuckets);
    refill(bucket, limit, now);
    if (bucket.tokens < 1) return secondsUntilToken(bucket, limit);
    if (!peek) bucket.tokens -= 1;
    return 0;
  }

  /** Counts a request after the fact, even past empty (it went through already). */
  charge(key: string, limit: RateBucket, now: number, maxBuckets: number): Bucket {
    const bucket = this.#bucket(key, limit, now, maxBuckets);
    refill(bucket, limit, now);
    bucket.tokens = Math.max(bucket.tokens - 1, -MAX_DEBT_BURSTS * limit.burst);
    return bucket;
  }

  /** The bucket of a key, if kept. */
  get(key: string): Bucket | undefined {
    return this.#buckets.get(key);
  }

  /**
   * Takes the shared bucket's word for one of ours: it held `shared` tokens at `sharedAt`, before the requests let
   * through here since then (`pending`). The local bucket keeps the lower of the two, so that a source other
   * instances served waits here too, owed tokens included.
   */
  static adopt(bucket: Bucket, limit: RateBucket, shared: number, sharedAt: number, now: number): void {
    refill(bucket, limit, now);
    const elapsed = Math.max(0, now - sharedAt);
    const sharedNow = Math.min(limit.burst, shared + (elapsed * limit.perSecond) / 1000) - bucket.pending;
    bucket.tokens = Math.max(Math.min(bucket.tokens, sharedNow), -MAX_DEBT_BURSTS * limit.burst);
  }

  #bucket(key: string, limit: RateBucket, now: number, maxBuckets: number): Bucket {
    const found = this.#buckets.get(key);
    if (found) {
      found.limit = limit;
      return found;
    }
    while (this.#buckets.size >= maxBuckets) this.#evict(now);
    const bucket: Bucket = { tokens: limit.burst, at: now, pending: 0, limit };
    this.#buckets.set(key, bucket);
    return bucket;
  }

  /**
   * Makes room for one: among the few oldest buckets, the first that is full again and owes the shared bucket
   * nothing (forgetting it changes no answer), else the oldest. Buckets are kept in the order they were made, so
   * the oldest are the likeliest to be idle.
   */
  #evict(now: number): void {
    let probed = 0;
    let oldest: string | undefined;
    for (const [key, bucket] of this.#buckets) {
      oldest ??= key;
      const full = bucket.tokens + ((now - bucket.at) * bucket.limit.perSecond) / 1000 >= bucket.limit.burst;
      if (full && bucket.pending === 0) {
        this.#delete(key);
        return;
      }
      probed += 1;
      if (probed >= EVICTION_PROBE) break;
    }
    if (oldest !== undefined) this.#delete(oldest);
  }

  #delete(key: string): void {
    this.#buckets.delete(key);
    this.#evictions += 1;
  }
}
