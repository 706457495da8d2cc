import assert from 'node:assert/strict';
import { memorySink } from '../../src/audit/audit-log.ts';
import { RATE_LIMIT_SYNC_INTERVAL_MS } from '../../src/limits.ts';
import { startGatewayInstance, type GatewayInstance } from '../support/gateway-instance.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { flood, type FloodResult, type FloodTarget } from '../support/flood.ts';

const PER_SECOND = 20;
const BURST = 20;
const INSTANCES = 2;

/**
 * Two gateway instances on one Redis, a flood of anonymous requests to a pass-through app spread over both: the
 * address is held to one limit, not one per instance, within the error docs/reliability.md ("Rate limits") states:
 * at most burst + rate × time, plus (instances − 1) × burst and instances × rate × (sync interval + round trip).
 */
describe('rate limits across instances sharing Redis', function () {
  this.timeout(120_000);
  let redis: RedisServer;
  let stack: Stack;
  let other: GatewayInstance | undefined;

  before(async () => {
    redis = await startRedisServer();
    stack = await startStack({
      configure: (config) => ({ ...config, store: { url: redis.url }, limits: { rate: { anonymous: { perSecond: PER_SECOND, burst: BURST } } } }),
    });
    // The second instance: the same configuration, its own server and process state, the same Redis.
    other = await startGatewayInstance(stack, ['open.gatehouse.test'], { audit: memorySink() });
  });
  after(async () => {
    await other?.close();
    await stack?.close();
    await redis?.close();
  });

  it('holds one address to one limit over both instances, within the documented error', async function () {
    const host = new URL(stack.urls.open).host;
    const to = (port: number) => ({
      origin: `https://127.0.0.1:${port}`,
      ca: stack.ca.certPem,
      servername: 'open.gatehouse.test',
      host,
      method: 'GET' as const,
    });
    const durationMs = 4_000;
    // Both instances at once, each flooded from its own loops for the same time.
    const started = performance.now();
    const results = await Promise.all([stack.port, other!.port].map((port) => floodFor(to(port), durationMs)));
    const elapsed = (performance.now() - started) / 1000;
    const admitted = results.reduce((sum, result) => sum + (result.statuses.get(200) ?? 0), 0);
    const refused = results.reduce((sum, result) => sum + (result.statuses.get(429) ?? 0), 0);
    const oneBucket = BURST + PER_SECOND * elapsed;
    const roundTripAllowance = 0.05;
    const bound = oneBucket + (INSTANCES - 1) * BURST + INSTANCES * PER_SECOND * (RATE_LIMIT_SYNC_INTERVAL_MS / 1000 + roundTripAllowance);
    const unshared = INSTANCES * oneBucket;
    console.log(
      `      two instances: ${JSON.stringify({ elapsedS: elapsed.toFixed(2), admitted, refused, perInstance: results.map((result) => result.statuses.get(200) ?? 0), oneBucket: Math.round(oneBucket), bound: Math.round(bound), unshared: Math.round(unshared) })}`,
    );
    assert.ok(refused > 0);
    assert.ok(admitted <= bound, `admitted ${admitted} > documented bound ${bound.toFixed(0)}`);
    assert.ok(admitted >= oneBucket * 0.75, `the flood used its limit: ${admitted} of ${oneBucket.toFixed(0)}`);
    assert.ok(
      results.every((result) => (result.statuses.get(200) ?? 0) < oneBucket),
      'neither instance let its own full bucket through',
    );
  });
});

/** Sequential requests from two loops until `ms` have passed. */
async function floodFor(target: Omit<FloodTarget, 'path'>, ms: number): Promise<FloodResult> {
  const deadline = performance.now() + ms;
  const merged = new Map<number, number>();
  let elapsedMs = 0;
  while (performance.now() < deadline) {
    const result = await flood({ ...target, path: '/flood' }, 200, 2);
    for (const [status, count] of result.statuses) merged.set(status, (merged.get(status) ?? 0) + count);
    elapsedMs += result.elapsedMs;
  }
  return { statuses: merged, retryAfter: new Set(), elapsedMs, refusalMs: [] };
}
