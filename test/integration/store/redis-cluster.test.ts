import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';
import type { AuditEvent } from '../../../src/audit/events.ts';
import { RedisOutbox } from '../../../src/audit/redis-outbox.ts';
import { parseStoreUrl } from '../../../src/config/store-schema.ts';
import { RedisSessionStore, type RedisSessionStoreOptions } from '../../../src/session/redis-session-store.ts';
import { RedisBroadcast } from '../../../src/store/redis-broadcast.ts';
import { parseClusterUrl } from '../../../src/store/redis-cluster-url.ts';
import { RedisConnection, redactRedisUrl } from '../../../src/store/redis-connection.ts';
import { RedisStore } from '../../../src/store/redis-store.ts';
import { startRedisCluster, waitForClusterOk, type RedisCluster } from '../../support/redis-server.ts';
import { storeContract } from '../../support/store-contract.ts';

async function until(condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await delay(20);
  }
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const event = (index: number): AuditEvent => ({ id: `id-${index}`, time: new Date(0).toISOString(), type: 'logout', outcome: 'info', details: { index } });

interface Instance {
  readonly store: RedisSessionStore;
  readonly revoked: string[];
  readonly resyncs: { count: number };
  close(): Promise<void>;
}

/** One gateway instance's share of the cluster: its connection, broadcast and session store, opened as the gateway opens them. */
async function instance(url: string, options: RedisSessionStoreOptions = {}): Promise<Instance> {
  const redis = new RedisConnection(url);
  const broadcast = new RedisBroadcast(redis);
  const store = new RedisSessionStore(redis, broadcast, options);
  const revoked: string[] = [];
  const resyncs = { count: 0 };
  store.onRevoked((sessionId) => revoked.push(sessionId));
  broadcast.onResync(() => (resyncs.count += 1));
  await redis.ready();
  await broadcast.ready();
  await store.ready();
  return {
    store,
    revoked,
    resyncs,
    close: async () => {
      store.close();
      await broadcast.close();
      await redis.close();
    },
  };
}

describe('Redis Cluster (real redis-server nodes, redis-cli --cluster create)', function () {
  this.timeout(60_000);

  it('reads the seed nodes and credentials from the URL, and refuses malformed ones', () => {
    assert.deepEqual(parseClusterUrl('rediss+cluster://app:s%40cret@10.0.0.1:7000,[fd00::2],redis-3.internal:7002'), {
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: 'fd00::2', port: 6379 },
        { host: 'redis-3.internal', port: 7002 },
      ],
      username: 'app',
      password: 's@cret',
      tls: true,
    });
    assert.equal(redactRedisUrl('redis+cluster://app:hunter2@10.0.0.1:7000').includes('hunter2'), false);
    assert.deepEqual(parseStoreUrl('redis+cluster://10.0.0.1:7000,10.0.0.2:7000'), { kind: 'redis', url: 'redis+cluster://10.0.0.1:7000,10.0.0.2:7000' });
    for (const bad of ['redis+cluster://', 'redis+cluster://10.0.0.1:99999', 'redis+cluster://10.0.0.1:7000/2', 'redis+cluster://a,,b']) {
      const refused = parseStoreUrl(bad);
      assert.equal(typeof refused, 'string', bad);
    }
    assert.match(parseStoreUrl('redis+cluster://10.0.0.1:7000/2') as string, /only database 0/);
  });

  describe('on three masters', () => {
    let cluster: RedisCluster;
    let connection: RedisConnection;
    let namespaces = 0;
    const open: Instance[] = [];
    const start = async (options: RedisSessionStoreOptions & { prefix?: string } = {}): Promise<Instance> => {
      const made = await instance(cluster.url, options);
      open.push(made);
      return made;
    };
    before(async () => {
      cluster = await startRedisCluster({ masters: 3 });
      connection = await RedisConnection.open(cluster.url);
    });
    afterEach(async () => {
      for (const made of open.splice(0)) await made.close();
    });
    after(async () => {
      await connection?.close();
      await cluster?.close();
    });

    // Every namespace's keys share one slot; the contract's compare-and-set and listing scripts touch several of them.
    storeContract('RedisStore on a Cluster', () => {
      namespaces += 1;
      return Promise.resolve({ store: new RedisStore(connection, { namespace: `cluster-${namespaces}` }), cleanup: () => undefined });
    });

    it('starts from any one seed, even with the other seeds down or unknown', async () => {
      const first = cluster.nodes[0]!;
      const only = await RedisConnection.open(`redis+cluster://127.0.0.1:1,127.0.0.1:${first.port}`);
      try {
        const store = new RedisStore(only, { namespace: 'seeds' });
        await store.put('ca', 'one seed is enough');
        assert.equal(await new RedisStore(connection, { namespace: 'seeds' }).get('ca'), 'one seed is enough');
      } finally {
        await only.close();
      }
    });

    it('revokes across instances (pub/sub through the cluster bus), consumes a state exactly once, keeps and drops side data', async () => {
      const a = await start();
      const b = await start();
      const now = nowSeconds();
      await a.store.putSideData('sid-1', { groups: ['g1'] }, now + 3600, now);
      assert.deepEqual(await b.store.getSideData('sid-1', now), { groups: ['g1'] });
      await a.store.revoke('sid-1', now - 10, now + 3600, now);
      await until(async () => await b.store.isRevoked('sid-1', now - 10, now), 1_000);
      await until(() => b.revoked.includes('sid-1'), 1_000);
      await until(async () => (await b.store.getSideData('sid-1', now)) === undefined, 1_000);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).store.consumeState('state-1', now + 600, now)));
      assert.equal(results.filter(Boolean).length, 1);
      // A third instance loads what is revoked at start.
      const c = await start();
      assert.equal(await c.store.isRevoked('sid-1', now - 10, now), true);
    });

    it('keeps the floor when the revocation index overflows (the script deletes keys it finds in the index)', async () => {
      const a = await start({ maxRevoked: 2, prefix: 'overflow:' });
      const now = nowSeconds();
      await a.store.revoke('s1', now - 30, now + 100, now);
      await a.store.revoke('s2', now - 20, now + 200, now);
      await a.store.revoke('s3', now - 10, now + 300, now);
      const b = await start({ maxRevoked: 2, prefix: 'overflow:' });
      assert.equal(await b.store.isRevoked('s1', now - 30, now), true);
      assert.equal(await b.store.isRevoked('older', now - 40, now), true, 'under the floor');
      assert.equal(await b.store.isRevoked('newer', now - 5, now), false);
      const admin = new Cluster(cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })));
      try {
        assert.equal(await admin.exists('{overflow:session}:revoked:s1'), 0, 'the evicted revocation key is gone: the floor covers it');
      } finally {
        admin.disconnect();
      }
    });

    it("audit outbox: a dead instance's events are adopted by a live one, in order", async () => {
      const dying = await RedisConnection.open(cluster.url);
      const dead = new RedisOutbox(dying, { capacity: 100, namespace: 'outbox', instanceId: 'dead', leaseMs: 300 });
      await dead.ready();
      for (let index = 0; index < 3; index += 1) dead.push(event(index));
      const key = '{outbox:audit-outbox}:dead:waiting';
      await until(async () => (await connection.client.llen(key)) === 3);
      dying.client.disconnect();
      dead.close();
      const heirConnection = await RedisConnection.open(cluster.url);
      const heir = new RedisOutbox(heirConnection, { capacity: 100, namespace: 'outbox', instanceId: 'heir', leaseMs: 300 });
      try {
        await heir.ready();
        await until(() => heir.length === 3);
        assert.deepEqual(
          heir.take(10).map((each) => each.details?.['index']),
          [0, 1, 2],
        );
      } finally {
        heir.close();
        await heirConnection.close();
        await dying.close();
      }
    });
  });

  describe('failover', () => {
    let cluster: RedisCluster;
    before(async () => {
      cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    });
    after(async () => {
      await cluster?.close();
    });

    it('moves the subscription to another node when its node dies, resyncs, and hears revocations again', async () => {
      const listener = await instance(cluster.url);
      const publisher = await instance(cluster.url);
      try {
        // The node holding the listener's subscription (the publisher's is on another: each connection takes the next node).
        const holders: number[] = [];
        for (const node of cluster.nodes) {
          const admin = new Redis({ host: '127.0.0.1', port: node.port });
          const clients = (await admin.client('LIST')) as string;
          admin.disconnect();
          if (clients.includes('name=gatehouse-subscriber')) holders.push(node.port);
        }
        assert.ok(holders.length >= 1);
        const before = listener.resyncs.count;
        for (const port of holders) await cluster.node(port).stop();
        const now = nowSeconds();
        // Revoked while the listener has no subscription: no message reaches it, the resync must find it.
        await until(
          async () =>
            publisher.store
              .revoke('during-gap', now, now + 600, now)
              .then(() => true)
              .catch(() => false),
          20_000,
        );
        await until(() => listener.resyncs.count > before, 20_000);
        await until(async () => await listener.store.isRevoked('during-gap', now, now), 5_000);
        // Heard through the subscription, not found by another resync (generous in time: a loaded machine delays the cluster bus).
        const resyncsBefore = listener.resyncs.count;
        await publisher.store.revoke('after', now, now + 600, now);
        await until(() => listener.revoked.includes('after'), 5_000);
        assert.equal(listener.resyncs.count, resyncsBefore);
        for (const port of holders) await cluster.node(port).start();
        await Promise.all(cluster.nodes.map((node) => waitForClusterOk(node.port)));
      } finally {
        await listener.close();
        await publisher.close();
      }
    });
  });
});
