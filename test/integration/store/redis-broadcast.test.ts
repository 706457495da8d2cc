import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { RedisBroadcast } from '../../../src/store/redis-broadcast.ts';
import { RedisConnection, redactRedisUrl, redisOptions } from '../../../src/store/redis-connection.ts';
import { StoreError } from '../../../src/store/store-error.ts';
import { freePort } from '../../support/free-port.ts';
import { startRedisServer, type RedisServer } from '../../support/redis-server.ts';

async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await delay(20);
  }
}

describe('Redis connection and broadcast (real redis-server)', () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    await redis?.close();
  });

  it('reads host, port, credentials, database and TLS from the URL, and redacts the password', () => {
    const options = redisOptions('rediss://app:s%40cret@cache.internal:6380/2');
    assert.equal(options.host, 'cache.internal');
    assert.equal(options.port, 6380);
    assert.equal(options.username, 'app');
    assert.equal(options.password, 's@cret');
    assert.equal(options.db, 2);
    assert.deepEqual(options.tls, { servername: 'cache.internal' });
    assert.equal(options.enableOfflineQueue, false, 'commands fail fast while Redis is down');
    assert.equal(redactRedisUrl('redis://app:s%40cret@cache.internal:6380/2').includes('cret'), false);
  });

  it('refuses to open a Redis nobody listens on, naming the redacted URL', async () => {
    const port = await freePort();
    await assert.rejects(RedisConnection.open(`redis://user:hunter2@127.0.0.1:${port}`, { connectTimeoutMs: 500 }), (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.equal(error.code, 'ERR_STORE_UNUSABLE');
      assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    });
  });

  it('delivers a message published on one connection to the subscribers of another, on its channel only', async () => {
    const a = await RedisConnection.open(redis.url);
    const b = await RedisConnection.open(redis.url);
    const onA = new RedisBroadcast(a);
    const onB = new RedisBroadcast(b);
    try {
      const got: string[] = [];
      onB.subscribe('session.revoked', (message) => got.push(message));
      onB.subscribe('other', (message) => got.push(`other:${message}`));
      await onB.ready();
      await onA.publish('session.revoked', 'sid-1');
      await until(() => got.length === 1);
      await delay(50);
      assert.deepEqual(got, ['sid-1']);
    } finally {
      await onA.close();
      await onB.close();
      await a.close();
      await b.close();
    }
  });

  it('tells its listeners to resync after the subscription came back, and delivers again', async () => {
    const connection = await RedisConnection.open(redis.url);
    const broadcast = new RedisBroadcast(connection);
    try {
      const got: string[] = [];
      let resyncs = 0;
      broadcast.subscribe('ch', (message) => got.push(message));
      broadcast.onResync(() => resyncs++);
      await broadcast.ready();
      assert.equal(broadcast.live, true);
      await redis.stop();
      await until(() => !broadcast.live);
      await assert.rejects(broadcast.publish('ch', 'lost'), 'publishing fails fast while Redis is down');
      await redis.start();
      await until(() => resyncs === 1 && broadcast.live);
      await until(() => connection.up);
      await broadcast.publish('ch', 'after');
      await until(() => got.includes('after'));
      assert.deepEqual(got, ['after']);
    } finally {
      await broadcast.close();
      await connection.close();
    }
  });

  it('closes without waiting when Redis is gone', async () => {
    const connection = await RedisConnection.open(redis.url);
    const closed = once(connection.client, 'end');
    await redis.stop();
    await connection.close();
    await closed;
    await redis.start();
  });
});
