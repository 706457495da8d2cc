import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { GatehouseError } from '../../../src/errors/index.ts';
import { RedisSessionStore, type RedisSessionStoreOptions } from '../../../src/session/redis-session-store.ts';
import { RedisBroadcast } from '../../../src/store/redis-broadcast.ts';
import { RedisConnection } from '../../../src/store/redis-connection.ts';
import { startRedisServer, type RedisServer } from '../../support/redis-server.ts';

async function until(condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await delay(20);
  }
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

interface Instance {
  readonly store: RedisSessionStore;
  readonly revoked: string[];
  close(): Promise<void>;
}

/** One gateway instance's share of Redis: its own connection, broadcast and store, opened as the gateway opens them. */
async function instance(url: string, options: RedisSessionStoreOptions = {}): Promise<Instance> {
  const redis = new RedisConnection(url);
  const broadcast = new RedisBroadcast(redis);
  const store = new RedisSessionStore(redis, broadcast, options);
  const revoked: string[] = [];
  store.onRevoked((sessionId) => revoked.push(sessionId));
  await redis.ready();
  await broadcast.ready();
  await store.ready();
  return {
    store,
    revoked,
    close: async () => {
      store.close();
      await broadcast.close();
      await redis.close();
    },
  };
}

const isUnavailable = (error: unknown): boolean => error instanceof GatehouseError && error.code === 'ERR_STORE_UNAVAILABLE' && error.status === 503;

describe('RedisSessionStore (real redis-server)', function () {
  this.timeout(60_000);
  let server: RedisServer;
  const open: Instance[] = [];
  const start = async (options: RedisSessionStoreOptions = {}): Promise<Instance> => {
    const made = await instance(server.url, options);
    open.push(made);
    return made;
  };

  beforeEach(async () => {
    server = await startRedisServer();
  });
  afterEach(async () => {
    for (const made of open.splice(0)) await made.close();
    await server?.close();
  });

  it('refuses on one instance at once a session revoked through another (broadcast), and tells both listeners', async () => {
    const a = await start();
    const b = await start();
    const now = nowSeconds();
    assert.equal(await b.store.isRevoked('sid-1', now - 10, now), false);
    await a.store.revoke('sid-1', now - 10, now + 3600, now);
    assert.equal(await a.store.isRevoked('sid-1', now - 10, now), true, 'at once on the instance that revoked');
    const sent = Date.now();
    await until(async () => await b.store.isRevoked('sid-1', now - 10, now), 1_000);
    assert.ok(Date.now() - sent < 1_000);
    await until(() => b.revoked.includes('sid-1'));
    assert.ok(a.revoked.includes('sid-1'));
    assert.equal(await b.store.isRevoked('sid-2', now - 10, now), false);

    // A third instance started later loads it at start.
    const c = await start();
    assert.equal(await c.store.isRevoked('sid-1', now - 10, now), true);

    const admin = new Redis(server.url);
    try {
      assert.equal(await admin.get('{gatehouse:session}:revoked:sid-1'), String(now - 10));
      const ttl = await admin.ttl('{gatehouse:session}:revoked:sid-1');
      assert.ok(ttl > 3500 && ttl <= 3600, `expires with the session (ttl ${ttl})`);
    } finally {
      admin.disconnect();
    }
  });

  it('answers revocation checks without a command to Redis', async () => {
    const a = await start();
    const now = nowSeconds();
    await a.store.revoke('sid-x', now, now + 60, now);
    const admin = new Redis(server.url);
    try {
      const processed = async (): Promise<number> => Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))?.[1]);
      const before = await processed();
      for (let i = 0; i < 1_000; i += 1) await a.store.isRevoked(i % 2 === 0 ? 'sid-x' : `other-${i}`, now, now);
      // The INFO calls themselves are the only commands counted.
      assert.ok((await processed()) - before <= 2);
    } finally {
      admin.disconnect();
    }
  });

  it('lets exactly one of many racing callers on two instances consume a sign-in state', async () => {
    const a = await start();
    const b = await start();
    const now = nowSeconds();
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).store.consumeState('state-1', now + 600, now)));
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal(await a.store.consumeState('state-2', now + 600, now), true);
    assert.equal(await b.store.consumeState('state-2', now + 600, now), false);
  });

  it('keeps side data until its session would expire, and drops it on revoke', async () => {
    const a = await start();
    const b = await start();
    const now = nowSeconds();
    // Lifetimes are whole seconds: `now + 1` may be a few milliseconds away when the clock is about to turn, and a busy
    // machine then reads it expired. Two seconds leave it at least one.
    assert.equal(await a.store.putSideData('short', { groups: ['g1'] }, now + 2, now), true);
    assert.equal(await a.store.putSideData('long', { groups: ['g2'], idToken: 'token' }, now + 3600, now), true);
    assert.deepEqual(await b.store.getSideData('long', nowSeconds()), { groups: ['g2'], idToken: 'token' });
    assert.deepEqual(await b.store.getSideData('short', nowSeconds()), { groups: ['g1'] });
    await until(async () => (await b.store.getSideData('short', nowSeconds())) === undefined, 6_000);

    // Read once, then kept by the instance: no Redis round trip per request for a session whose groups live server side.
    const admin = new Redis(server.url);
    try {
      const gets = async (): Promise<number> => Number(/cmdstat_get:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);
      const before = await gets();
      for (let i = 0; i < 100; i += 1) assert.deepEqual(await b.store.getSideData('long', nowSeconds()), { groups: ['g2'], idToken: 'token' });
      assert.equal(await gets(), before);
    } finally {
      admin.disconnect();
    }

    await b.store.revoke('long', now, now + 3600, now);
    assert.equal(await b.store.getSideData('long', nowSeconds()), undefined, 'dropped at once where it was revoked');
    await until(async () => (await a.store.getSideData('long', nowSeconds())) === undefined, 1_000);
  });

  it('picks up after a dropped subscription a revocation no message carried', async () => {
    await server.close();
    server = await startRedisServer({ persist: true });
    const b = await start({ checkIntervalMs: 100 });
    const now = nowSeconds();
    const admin = new Redis(server.url);
    try {
      // Written as another instance would, but the message is lost.
      await admin
        .multi()
        .set('{gatehouse:session}:revoked:lost', String(now), 'EXAT', now + 600)
        .zadd('{gatehouse:session}:revoked', now + 600, `${now}:lost`)
        .exec();
    } finally {
      admin.disconnect();
    }
    assert.equal(await b.store.isRevoked('lost', now, now), false, 'no message, no round trip: not seen yet');
    await server.stop();
    await server.start();
    await until(async () => await b.store.isRevoked('lost', now, now).catch(() => false));
  });

  it('when Redis is down: answers from its copy for the grace period, then refuses; a logout counts at once and reaches Redis once it is back', async () => {
    const graceMs = 1_500;
    const a = await start({ outageGraceMs: graceMs, checkIntervalMs: 100 });
    const b = await start({ outageGraceMs: graceMs, checkIntervalMs: 100 });
    const now = nowSeconds();
    await a.store.revoke('before', now, now + 600, now);
    await until(async () => await b.store.isRevoked('before', now, now));

    // Redis restarts empty (no persistence): what the instances hold must come back into it.
    await server.stop();
    const down = Date.now();
    assert.equal(await b.store.isRevoked('before', now, now), true);
    assert.equal(await b.store.isRevoked('live', now, now), false, 'a session it can verify is served within the grace period');
    await a.store.revoke('during', now, now + 600, now);
    assert.equal(await a.store.isRevoked('during', now, now), true, 'a logout during the outage counts on this instance at once');
    await assert.rejects(a.store.consumeState('state-during', now + 600, now), isUnavailable);

    await until(async () => await a.store.isRevoked('live', now, now).then(() => false, isUnavailable), 5_000);
    assert.ok(Date.now() - down >= graceMs - 200, 'not refused before the grace period');
    await until(async () => await b.store.isRevoked('live', now, now).then(() => false, isUnavailable), 1_000);
    await assert.rejects(b.store.isRevoked('before', now, now), isUnavailable, 'refused too: nothing is answered from a stale copy');

    await server.start();
    await until(async () => (await a.store.isRevoked('live', now, now).catch(() => undefined)) === false);
    await until(async () => (await b.store.isRevoked('live', now, now).catch(() => undefined)) === false);
    await until(async () => await b.store.isRevoked('during', now, now), 5_000);
    assert.equal(await b.store.isRevoked('before', now, now), true, 'nothing revoked comes back');

    // Both are in Redis again: an instance started now sees them.
    const c = await start();
    assert.equal(await c.store.isRevoked('before', now, now), true);
    assert.equal(await c.store.isRevoked('during', now, now), true);
    assert.equal(await c.store.consumeState('state-after', now + 600, now), true, 'sign-ins work again');
  });

  it('keeps the floor semantics when the revocation index is full: the evicted one stays refused, on every instance', async () => {
    const raised: number[] = [];
    const a = await start({ maxRevoked: 2, onRevocationOverflow: (floor) => raised.push(floor) });
    const b = await start({ maxRevoked: 2 });
    const now = nowSeconds();
    await a.store.revoke('s1', now - 30, now + 100, now);
    await a.store.revoke('s2', now - 20, now + 200, now);
    await a.store.revoke('s3', now - 10, now + 300, now);
    assert.deepEqual(raised, [now - 30]);
    // Issued at or before the floor: refused on the other instance too, once the broadcast arrived.
    await until(async () => await b.store.isRevoked('unrelated-older', now - 40, now), 1_000);
    assert.equal(await b.store.isRevoked('s1', now - 30, now), true);
    assert.equal(await b.store.isRevoked('unrelated-newer', now - 5, now), false);
    const c = await start({ maxRevoked: 2 });
    assert.equal(await c.store.isRevoked('s1', now - 30, now), true, 'the floor is in Redis too');
  });
});
