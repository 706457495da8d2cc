/**
 * The token buckets every instance shares, in Redis: one hash per limit and
 * client source (`gatehouse:rate:<limit>:<source>`, fields `t` tokens and
 * `a` when), charged with what an instance let through since it last said,
 * refilled at the limit's rate, and expiring once it would be full again.
 * One script per bucket and sync, so that a bucket's read, charge and write
 * are one step for every instance.
 */
import { createHash } from 'node:crypto';
import type { RateBucket } from '../config/rate-limit-schema.ts';
import type { RedisConnection } from '../store/redis-connection.ts';

/** A bucket to charge: its key, the requests let through since the last charge, its limit. */
export interface SharedCharge {
  readonly key: string;
  readonly count: number;
  readonly limit: RateBucket;
}

/** Where the instances' buckets meet. `charge` resolves with each bucket's tokens after its charge, at `now`. */
export interface SharedBuckets {
  charge(charges: readonly SharedCharge[], now: number): Promise<number[]>;
}

const PREFIX = 'gatehouse:rate:';

/**
 * KEYS: the bucket. ARGV: requests to charge, per second, burst, now (ms), the most it may owe.
 * Returns the tokens left, as a string (a Lua number would be cut to an integer).
 * Clocks of different instances may differ a little: a time before the bucket's own refills nothing.
 */
const CHARGE = `
local state = redis.call('HMGET', KEYS[1], 't', 'a')
local perMs = tonumber(ARGV[2]) / 1000
local burst = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * perMs)
  at = now
end
tokens = math.max(tokens - tonumber(ARGV[1]), -tonumber(ARGV[5]))
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'a', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / perMs) + 1000)
return tostring(tokens)
`;

const CHARGE_SHA = createHash('sha1').update(CHARGE).digest('hex');

/** A bucket may owe this many bursts at most: what the instances let through before they heard it was empty. */
const MAX_DEBT_BURSTS = 10;

export class RedisSharedBuckets implements SharedBuckets {
  readonly #redis: RedisConnection;

  /** Over the gateway's shared connection, which stays the caller's to close. */
  constructor(redis: RedisConnection) {
    this.#redis = redis;
  }

  charge(charges: readonly SharedCharge[], now: number): Promise<number[]> {
    const client = this.#redis.client;
    // Sent together without waiting for each answer: one round trip's latency for the whole sync.
    return Promise.all(
      charges.map(async ({ key, count, limit }) => {
        const args = [PREFIX + key, count, limit.perSecond, limit.burst, now, MAX_DEBT_BURSTS * limit.burst] as const;
        // By its digest: a sync of many buckets does not send the script with each. Redis forgets scripts on restart.
        const left = await client.evalsha(CHARGE_SHA, 1, ...args).catch((error: unknown) => {
          if (error instanceof Error && error.message.startsWith('NOSCRIPT')) return client.eval(CHARGE, 1, ...args);
          throw error;
        });
        return Number(left);
      }),
    );
  }
}
