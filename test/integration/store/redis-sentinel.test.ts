import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { parseStoreUrl } from '../../../src/config/store-schema.ts';
import { RedisBroadcast } from '../../../src/store/redis-broadcast.ts';
import { RedisConnection, redactRedisUrl } from '../../../src/store/redis-connection.ts';
import { parseSentinelUrl } from '../../../src/store/redis-sentinel-url.ts';
import { RedisStore } from '../../../src/store/redis-store.ts';
import { startRedisSentinel, startRedisServer, type RedisSentinel, type RedisServer } from '../../support/redis-server.ts';

describe('Redis through Sentinel (real redis-server and sentinel)', function () {
  this.timeout(30_000);
  let master: RedisServer;
  let sentinel: RedisSentinel;
  before(async () => {
    master = await startRedisServer();
    sentinel = await startRedisSentinel(master);
  });
  after(async () => {
    await sentinel?.close();
    await master?.close();
  });

  it('reads the sentinels, master name, credentials and database from the URL, and refuses malformed ones', () => {
    assert.deepEqual(parseSentinelUrl('rediss+sentinel://app:s%40cret@10.0.0.1:26379,[fd00::2],sentinel-3.internal:26380/main/2'), {
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: 'fd00::2', port: 26379 },
        { host: 'sentinel-3.internal', port: 26380 },
      ],
      name: 'main',
      username: 'app',
      password: 's@cret',
      db: 2,
      tls: true,
    });
    assert.equal(redactRedisUrl('redis+sentinel://app:hunter2@10.0.0.1:26379/main').includes('hunter2'), false);
    assert.deepEqual(parseStoreUrl('redis+sentinel://10.0.0.1:26379/main'), { kind: 'redis', url: 'redis+sentinel://10.0.0.1:26379/main' });
    for (const bad of [
      'redis+sentinel://10.0.0.1:26379',
      'redis+sentinel://10.0.0.1:99999/main',
      'redis+sentinel://10.0.0.1:26379/main/x',
      'redis+sentinel://a,,b/main',
    ]) {
      assert.equal(typeof parseStoreUrl(bad), 'string', bad);
    }
  });

  it('refuses to open a master the sentinels do not know, naming it', async () => {
    await assert.rejects(
      RedisConnection.open(`redis+sentinel://127.0.0.1:${sentinel.port}/no-such-master`, { connectTimeoutMs: 1_000 }),
      /ERR_STORE_UNUSABLE|cannot be reached/,
    );
  });

  it('finds the master through the sentinel: the store and pub/sub work as on a direct URL', async () => {
    const connection = await RedisConnection.open(sentinel.url);
    const other = await RedisConnection.open(master.url);
    const store = new RedisStore(connection);
    const onSentinel = new RedisBroadcast(connection);
    const direct = new RedisBroadcast(other);
    try {
      await store.put('ca', 'through-sentinel');
      assert.equal(await new RedisStore(other).get('ca'), 'through-sentinel', 'written on the master');
      const heard: string[] = [];
      onSentinel.subscribe('session.revoked', (message) => heard.push(message));
      await onSentinel.ready();
      await direct.publish('session.revoked', 'sid-1');
      const deadline = Date.now() + 5_000;
      while (heard.length === 0 && Date.now() < deadline) await delay(20);
      assert.deepEqual(heard, ['sid-1']);
    } finally {
      await onSentinel.close();
      await direct.close();
      await store.close();
      await connection.close();
      await other.close();
    }
  });

  it('follows a failover: the master dies, the sentinel promotes the replica, the store works again by itself', async function () {
    this.timeout(60_000);
    const primary = await startRedisServer();
    const replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
    const watching = await startRedisSentinel(primary, 'failover');
    const connection = await RedisConnection.open(watching.url);
    const store = new RedisStore(connection);
    try {
      await store.put('ca', 'before');
      // The replica must have it before the master goes, or the failover would lose it (Redis replication is asynchronous).
      const synced = new RedisStore(await RedisConnection.open(replica.url), { ownsConnection: true });
      for (let waited = 0; (await synced.get('ca')) !== 'before'; waited += 50) {
        if (waited > 10_000) assert.fail('the replica did not catch up');
        await delay(50);
      }
      await synced.close();
      await primary.stop();
      const deadline = Date.now() + 45_000;
      for (;;) {
        const answer = await store.get('ca').then(
          (value) => value,
          () => undefined,
        );
        if (answer === 'before') break;
        if (Date.now() > deadline) assert.fail('the store did not follow the failover');
        await delay(200);
      }
      await store.put('ca', 'after');
      assert.equal(await new RedisStore(connection).get('ca'), 'after');
    } finally {
      await store.close();
      await connection.close();
      await watching.close();
      await replica.close();
      await primary.close();
    }
  });
});
