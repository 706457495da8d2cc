import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisWebSocketLeases } from '../../../src/edge/websocket-caps-redis.ts';
import { addressLeaseKey, sessionLeaseKey } from '../../../src/edge/websocket-lease-scripts.ts';
import { RedisConnection } from '../../../src/store/redis-connection.ts';
import { startRedisCluster, type RedisCluster } from '../../support/redis-server.ts';

const CAPS = { perIp: 2, perSession: 1 };

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await sleep(20);
  }
}

/**
 * The WebSocket leases on a real three-master Redis Cluster: a session's set and an address's set are admitted
 * against in one script and renewed in batches, which a Cluster allows only for keys of one slot (their hash tag).
 */
describe('WebSocket leases on a Redis Cluster', function () {
  this.timeout(120_000);
  let cluster: RedisCluster;
  let admin: RedisConnection;
  const opened: Array<{ close(): unknown }> = [];

  before(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    admin = await RedisConnection.open(cluster.url);
  });
  after(async () => {
    for (const each of opened.splice(0)) await each.close();
    await admin?.close();
    await cluster?.close();
  });

  const instance = async (): Promise<RedisWebSocketLeases> => {
    const connection = await RedisConnection.open(cluster.url);
    const leases = new RedisWebSocketLeases(connection, { leaseMs: 600, renewIntervalMs: 100, timeoutMs: 5_000 });
    opened.push(leases, connection);
    return leases;
  };
  const held = async (key: string): Promise<number> => admin.client.zcard(key);

  it('admits against a session and an address over two instances, renews, releases and gives back on close', async () => {
    const a = await instance();
    const b = await instance();
    const first = new PassThrough();
    assert.equal(await a.admit(first, 's-1', '203.0.113.7', CAPS), undefined);
    assert.equal(await b.admit(new PassThrough(), 's-1', '198.51.100.1', CAPS), 'websockets_per_session');
    assert.equal(await b.admit(new PassThrough(), 's-2', '203.0.113.7', CAPS), undefined);
    assert.equal(await a.admit(new PassThrough(), undefined, '203.0.113.7', CAPS), 'websockets_per_ip');
    // Several leases long: only the renewals keep them.
    await sleep(1_500);
    assert.equal(await held(addressLeaseKey('203.0.113.7')), 2);
    assert.equal(await b.admit(new PassThrough(), undefined, '203.0.113.7', CAPS), 'websockets_per_ip', 'renewed leases still count');
    first.destroy();
    await until(async () => (await held(sessionLeaseKey('s-1'))) === 0, 'the closed socket’s lease given back');
    b.close();
    await until(async () => (await held(addressLeaseKey('203.0.113.7'))) === 0, 'the closed instance’s leases given back');
  });
});
