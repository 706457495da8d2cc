import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { AuditEvent, AuditEventType } from '../../../src/audit/events.ts';
import { recentEvents, type RecentEvents } from '../../../src/audit/recent-events.ts';
import { RedisRecentEvents } from '../../../src/audit/redis-recent-events.ts';
import { SqliteRecentEvents } from '../../../src/audit/sqlite-recent-events.ts';
import { RedisConnection } from '../../../src/store/redis-connection.ts';
import { startRedisServer, type RedisServer } from '../../support/redis-server.ts';

const BASE = Date.UTC(2025, 0, 31, 8);
let sequence = 0;
function event(type: AuditEventType, at: number, extra: Partial<AuditEvent> = {}): AuditEvent {
  sequence += 1;
  return Object.freeze({ id: `e${sequence}`, time: new Date(BASE + at).toISOString(), type, outcome: 'info', ...extra });
}

let redis: RedisServer;
let dir: string;
let files = 0;
const connections: RedisConnection[] = [];
const toClose: RecentEvents[] = [];

interface Backend {
  readonly name: string;
  /** Two stores on one backend, as two gateway instances see it (memory: one process, so one store). */
  pair(capacity: number): Promise<[RecentEvents, RecentEvents]>;
  /** Redis writes do not wait; a query waits until they landed. */
  readonly settle: () => Promise<void>;
}

const backends: readonly Backend[] = [
  {
    name: 'memory',
    pair: (capacity) => {
      const store = recentEvents(capacity);
      return Promise.resolve([store, store]);
    },
    settle: () => Promise.resolve(),
  },
  {
    name: 'SQLite',
    pair: (capacity) => {
      const path = join(dir, `${(files += 1)}.db`);
      const pair: [RecentEvents, RecentEvents] = [new SqliteRecentEvents(path, capacity), new SqliteRecentEvents(path, capacity)];
      toClose.push(...pair);
      return Promise.resolve(pair);
    },
    settle: () => Promise.resolve(),
  },
  {
    name: 'Redis',
    pair: async (capacity) => {
      const [a, b] = [await RedisConnection.open(redis.url), await RedisConnection.open(redis.url)];
      connections.push(a, b);
      await a.client.flushdb();
      return [new RedisRecentEvents(a, capacity), new RedisRecentEvents(b, capacity)];
    },
    // A PING on each connection answers after the writes queued before it.
    settle: async () => {
      for (const connection of connections) await connection.client.ping();
    },
  },
];

before(async function () {
  redis = await startRedisServer();
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-recent-'));
});
after(async function () {
  await redis?.close();
  await rm(dir, { recursive: true, force: true });
});
afterEach(async function () {
  for (const store of toClose.splice(0)) await store.close?.();
  for (const connection of connections.splice(0)) await connection.close();
});

for (const backend of backends) {
  describe(`recent audit events on ${backend.name}`, function () {
    it('keeps the last `capacity` events of every instance and answers newest first on each', async function () {
      const [a, b] = await backend.pair(10);
      const written = Array.from({ length: 25 }, (_, n) => event('signin.started', n * 1000));
      // Each write lands before the next: across instances, "newest first" is the order the store received them in.
      for (const [n, item] of written.entries()) {
        (n % 2 === 0 ? a : b).write(item);
        await backend.settle();
      }
      for (const store of [a, b]) {
        assert.deepEqual(await store.query({ limit: 1000 }), written.slice(15).reverse());
        assert.deepEqual(await store.query({ limit: 3 }), written.slice(22).reverse());
      }
    });

    it('filters by type, family, user, app and time range, across instances', async function () {
      const [one, two] = await backend.pair(100);
      const alice = { sub: 'alice-sub', email: 'Alice@Example.com' };
      const a = event('signin.failed', 0, { user: alice, app: 'wiki' });
      const b = event('connector.registered', 1000);
      const c = event('connector.revoked', 2000, { user: { sub: 'admin' } });
      const d = event('signin.succeeded', 3000, { user: alice, app: 'crm' });
      const e = event('logout', 4000, { user: { sub: 'bob' }, app: 'wiki' });
      for (const [n, item] of [a, b, c, d, e].entries()) {
        (n % 2 === 0 ? one : two).write(item);
        await backend.settle();
      }
      const store = two;
      assert.deepEqual(await store.query({ type: 'signin.failed' }), [a]);
      assert.deepEqual(await store.query({ type: 'connector.*' }), [c, b]);
      assert.deepEqual(await store.query({ types: ['logout', 'signin.*'] }), [e, d, a]);
      assert.deepEqual(await store.query({ user: 'alice@example.COM' }), [d, a], 'email in any case');
      assert.deepEqual(await store.query({ user: 'alice' }), [], 'no partial matches');
      assert.deepEqual(await store.query({ app: 'wiki' }), [e, a]);
      assert.deepEqual(await store.query({ since: BASE + 1000, until: BASE + 3000 }), [c, b], 'since inclusive, until exclusive');
      assert.deepEqual(await store.query({ since: new Date(BASE + 3000) }), [e, d]);
      assert.deepEqual(await store.query({ app: 'wiki', user: 'bob', type: 'logout' }), [e], 'filters combine');
      assert.deepEqual(await store.query({ type: 'signin.started' }), []);
    });

    it('finds a few matches among many events, paging through all of them', async function () {
      const [a, b] = await backend.pair(2000);
      const needle = event('logout', 0, { user: { sub: 'carol' } });
      a.write(needle);
      await backend.settle();
      for (let n = 1; n < 1500; n += 1) b.write(event('signin.started', n));
      await backend.settle();
      assert.deepEqual(await a.query({ type: 'logout' }), [needle]);
    });
  });
}

describe('recent audit events kept and shared', function () {
  it('SQLite keeps them across a restart', async function () {
    const path = join(dir, 'restart.db');
    const first = new SqliteRecentEvents(path, 10);
    const kept = event('logout', 0, { user: { sub: 'alice' } });
    first.write(kept);
    await first.close();
    const second = new SqliteRecentEvents(path, 10);
    toClose.push(second);
    assert.deepEqual(await second.query(), [kept]);
  });

  it('Redis unreachable: a write is reported and dropped without throwing, a query rejects', async function () {
    const own = await startRedisServer();
    const connection = await RedisConnection.open(own.url, { commandTimeoutMs: 500 });
    try {
      const errors: unknown[] = [];
      const store = new RedisRecentEvents(connection, 10, { onError: (error) => errors.push(error) });
      await own.stop();
      store.write(event('logout', 0));
      await assert.rejects(store.query());
      for (let waited = 0; errors.length === 0 && waited < 2000; waited += 20) await delay(20);
      assert.equal(errors.length, 1);
    } finally {
      await connection.close();
      await own.close();
    }
  });
});
