/**
 * Risk counters in Redis, so that every gateway instance counts the failed
 * sign-ins and sees the networks of every other instance. One sorted set
 * per key, scored by time in epoch milliseconds:
 * - `gatehouse:risk:fail:user:<sub>` and `gatehouse:risk:fail:address:<address>`:
 *   one member per failure, at most `keep` of them;
 * - `gatehouse:risk:net:<sub>`: one member per network, scored by its last use,
 *   at most `keep` of them.
 * Each write is one MULTI (trim what left the window, add, cap, set the
 * key's expiry), so a key that is no longer written disappears by itself
 * once its window has passed: Redis holds only what can still change an
 * answer. A command fails fast while Redis is down (RedisConnection).
 */
import { randomBytes } from 'node:crypto';
import type { RedisConnection } from '../store/redis-connection.ts';
import type { FailureKind, RiskState } from './risk-state.ts';

const PREFIX = 'gatehouse:risk:';

export class RedisRiskState implements RiskState {
  readonly #redis: RedisConnection;

  /** Over the gateway's shared connection, which stays the caller's to close. */
  constructor(redis: RedisConnection) {
    this.#redis = redis;
  }

  async recordFailure(kind: FailureKind, key: string, nowMs: number, windowMs: number, keep: number): Promise<void> {
    const name = failureKey(kind, key);
    // Two failures in one millisecond, on one instance or two, are two members.
    const member = `${nowMs}:${randomBytes(6).toString('base64url')}`;
    await exec(
      this.#redis.client
        .multi()
        .zremrangebyscore(name, '-inf', nowMs - windowMs)
        .zadd(name, nowMs, member)
        .zremrangebyrank(name, 0, -(keep + 1))
        .pexpire(name, windowMs),
    );
  }

  async failuresInWindow(kind: FailureKind, key: string, nowMs: number, windowMs: number): Promise<number> {
    return this.#redis.client.zcount(failureKey(kind, key), `(${nowMs - windowMs}`, '+inf');
  }

  async networks(sub: string, sinceMs: number): Promise<ReadonlyMap<string, number>> {
    const flat = await this.#redis.client.zrangebyscore(networkKey(sub), `(${sinceMs}`, '+inf', 'WITHSCORES');
    const networks = new Map<string, number>();
    for (let index = 0; index + 1 < flat.length; index += 2) networks.set(flat[index] as string, Number(flat[index + 1]));
    return networks;
  }

  async rememberNetwork(sub: string, network: string, nowMs: number, keep: number, forgetAfterMs: number): Promise<void> {
    const name = networkKey(sub);
    await exec(
      this.#redis.client
        .multi()
        .zremrangebyscore(name, '-inf', nowMs - forgetAfterMs)
        .zadd(name, nowMs, network)
        .zremrangebyrank(name, 0, -(keep + 1))
        .pexpire(name, forgetAfterMs),
    );
  }
}

function failureKey(kind: FailureKind, key: string): string {
  return `${PREFIX}fail:${kind}:${key}`;
}

function networkKey(sub: string): string {
  return `${PREFIX}net:${sub}`;
}

/** Runs a MULTI and rejects when it, or any command in it, failed. */
async function exec(multi: { exec(): Promise<[error: Error | null, result: unknown][] | null> }): Promise<void> {
  const results = await multi.exec();
  if (results === null) throw new Error('Redis discarded the transaction');
  for (const [error] of results) if (error) throw error;
}
