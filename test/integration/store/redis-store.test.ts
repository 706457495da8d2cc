import assert from 'node:assert/strict';
import { RedisConnection } from '../../../src/store/redis-connection.ts';
import { RedisStore } from '../../../src/store/redis-store.ts';
import { startRedisServer, type RedisServer } from '../../support/redis-server.ts';
import { increment, rejectsWith, storeContract } from '../../support/store-contract.ts';

describe('RedisStore (real redis-server)', () => {
  let redis: RedisServer;
  let connection: RedisConnection;
  let namespaces = 0;
  before(async () => {
    redis = await startRedisServer();
    connection = await RedisConnection.open(redis.url);
  });
  after(async () => {
    await connection?.close();
    await redis?.close();
  });

  // Each case gets a namespace of its own on the one server: a fresh, empty store.
  storeContract('RedisStore', () => {
    namespaces += 1;
    return Promise.resolve({ store: new RedisStore(connection, { namespace: `contract-${namespaces}` }), cleanup: () => undefined });
  });

  describe('two instances on two connections', () => {
    let other: RedisConnection;
    let a: RedisStore;
    let b: RedisStore;
    beforeEach(async () => {
      other = await RedisConnection.open(redis.url);
      namespaces += 1;
      a = new RedisStore(connection, { namespace: `shared-${namespaces}` });
      b = new RedisStore(other, { namespace: `shared-${namespaces}`, ownsConnection: true });
    });
    afterEach(async () => {
      await a.close();
      await b.close();
    });

    it('reads through one what the other wrote, listed and deleted', async () => {
      await a.put('connector:c-1', '{"name":"one"}');
      assert.equal(await b.get('connector:c-1'), '{"name":"one"}');
      assert.deepEqual(await b.list('connector:'), ['connector:c-1']);
      await b.delete('connector:c-1');
      assert.equal(await a.get('connector:c-1'), undefined);
      assert.deepEqual(await a.list(''), []);
    });

    it('lets exactly one of two racing compare-and-set creators win, many times over', async () => {
      for (let round = 0; round < 50; round += 1) {
        const [fromA, fromB] = await Promise.all([a.compareAndSet(`ca-${round}`, undefined, 'a'), b.compareAndSet(`ca-${round}`, undefined, 'b')]);
        assert.equal(Number(fromA) + Number(fromB), 1, `round ${round}`);
        assert.equal(await a.get(`ca-${round}`), fromA ? 'a' : 'b');
      }
    });

    it('loses no increment when both connections update one counter', async () => {
      await Promise.all(Array.from({ length: 40 }, (_, i) => increment(i % 2 === 0 ? a : b, 'counter')));
      assert.equal(await b.get('counter'), '40');
    });

    it('keeps namespaces apart and leaves a connection it does not own open', async () => {
      namespaces += 1;
      const elsewhere = new RedisStore(connection, { namespace: `elsewhere-${namespaces}` });
      await a.put('ca', '1');
      assert.equal(await elsewhere.get('ca'), undefined);
      assert.deepEqual(await elsewhere.list(''), []);
      await elsewhere.close();
      assert.equal(connection.up, true);
      assert.equal(await a.get('ca'), '1');
    });
  });

  it('used the moment it is made (a process starting), waits for its first connection instead of failing', async () => {
    const store = new RedisStore(new RedisConnection(redis.url), { ownsConnection: true });
    try {
      await store.put('starting', 'yes');
      assert.equal(await store.get('starting'), 'yes');
      await store.delete('starting');
    } finally {
      await store.close();
    }
  });

  it('rejects at once with ERR_STORE_UNUSABLE while Redis is down, and works again when it is back', async () => {
    const own = await startRedisServer({ persist: true });
    const store = new RedisStore(await RedisConnection.open(own.url), { ownsConnection: true });
    try {
      await store.put('ca', 'kept');
      await own.stop();
      const started = Date.now();
      await rejectsWith(store.get('ca'), 'ERR_STORE_UNUSABLE');
      await rejectsWith(store.compareAndSet('ca', 'kept', 'new'), 'ERR_STORE_UNUSABLE');
      assert.ok(Date.now() - started < 2_000, 'no waiting on a queue');
      await own.start();
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          assert.equal(await store.get('ca'), 'kept', 'appendfsync always kept the write');
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      assert.deepEqual(await store.list(''), ['ca']);
    } finally {
      await store.close();
      await own.close();
    }
  });
});
