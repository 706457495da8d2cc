import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { WebSocketCaps } from '../../../src/edge/websocket-caps.ts';
import { createWebSocketCaps, RedisWebSocketLeases } from '../../../src/edge/websocket-caps-redis.ts';
import { ADMIT, addressLeaseKey, RENEW, runScript, sessionLeaseKey } from '../../../src/edge/websocket-lease-scripts.ts';
import { GatehouseConfigError } from '../../../src/errors/index.ts';
import { RedisConnection } from '../../../src/store/redis-connection.ts';
import { startRedisServer, type RedisServer } from '../../support/redis-server.ts';

const ADDRESS = '203.0.113.7';
const CAPS = { perIp: 2, perSession: 1 };

/** Polls until `check` holds; the deadline only stops a test that would otherwise hang. */
async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await sleep(20);
  }
}

describe('WebSocket leases in Redis (the caps over every instance)', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  let admin: RedisConnection;
  const opened: Array<{ close(): unknown }> = [];

  const connection = async (): Promise<RedisConnection> => {
    const made = await RedisConnection.open(redis.url);
    opened.push(made);
    return made;
  };
  const leases = async (options: ConstructorParameters<typeof RedisWebSocketLeases>[1] = {}, on?: RedisConnection): Promise<RedisWebSocketLeases> => {
    const made = new RedisWebSocketLeases(on ?? (await connection()), { leaseMs: 5_000, renewIntervalMs: 1_000, ...options });
    opened.unshift(made);
    return made;
  };
  const socket = (): PassThrough => new PassThrough();
  const members = (key: string): Promise<string[]> => admin.client.zrange(key, 0, -1);

  before(async () => {
    redis = await startRedisServer();
    admin = await RedisConnection.open(redis.url);
  });
  beforeEach(async () => {
    await admin.client.flushall();
  });
  afterEach(async () => {
    for (const each of opened.splice(0)) await each.close();
  });
  after(async () => {
    await admin?.close();
    await redis?.close();
  });

  describe('the admission script', function () {
    it('adds one member to both sets while under both caps, else adds nothing and names the bound met, session first', async () => {
      const ip = addressLeaseKey(ADDRESS);
      const session = sessionLeaseKey('s-1');
      const admit = (member: string, keys: string[]) => runScript(admin.client, ADMIT, keys, [member, 10_000, 2, 1]);
      assert.equal(await admit('a:1', [ip, session]), 0);
      assert.equal(await admit('a:2', [ip, session]), 'websockets_per_session');
      assert.deepEqual(await members(ip), ['a:1'], 'a refusal adds nothing');
      assert.equal(await admit('b:1', [ip]), 0, 'no session: only the address counts');
      assert.equal(await admit('b:2', [ip, sessionLeaseKey('s-2')]), 'websockets_per_ip');
      assert.deepEqual(await members(sessionLeaseKey('s-2')), [], 'nothing added to the session set either');
      const ttl = await admin.client.pttl(ip);
      assert.ok(ttl > 0 && ttl <= 10_000, `the set expires with its longest lease (${ttl} ms)`);
    });

    it('drops ended leases before counting, by Redis time', async () => {
      const ip = addressLeaseKey(ADDRESS);
      const [seconds] = await admin.client.time();
      const now = Number(seconds) * 1000;
      await admin.client.zadd(ip, now - 1_000, 'dead:1', now - 10, 'dead:2', now + 60_000, 'live:1');
      assert.equal(await runScript(admin.client, ADMIT, [ip], ['b:1', 10_000, 2, 1]), 0);
      assert.deepEqual((await members(ip)).sort(), ['b:1', 'live:1']);
    });

    it('renewal extends leases and adds back those the set lost', async () => {
      const ip = addressLeaseKey(ADDRESS);
      const session = sessionLeaseKey('s-1');
      await runScript(admin.client, ADMIT, [ip, session], ['a:1', 1_000, 2, 1]);
      const before = Number(await admin.client.zscore(ip, 'a:1'));
      await admin.client.zrem(session, 'a:1');
      assert.equal(await runScript(admin.client, RENEW, [ip, session], [60_000, 'a:1', 'a:1']), 2);
      assert.ok(Number(await admin.client.zscore(ip, 'a:1')) > before + 50_000, 'the lease is extended');
      assert.deepEqual(await members(session), ['a:1'], 'the lost member is back: its socket is still open');
      assert.ok((await admin.client.pttl(session)) > 50_000);
    });
  });

  it('holds the caps over two instances: the third socket is refused on either, and a close frees a slot on the other', async () => {
    const a = await leases();
    const b = await leases();
    const first = socket();
    assert.equal(await a.admit(first, undefined, ADDRESS, CAPS), undefined);
    assert.equal(await b.admit(socket(), undefined, ADDRESS, CAPS), undefined);
    assert.equal(await a.admit(socket(), undefined, ADDRESS, CAPS), 'websockets_per_ip');
    assert.equal(await b.admit(socket(), undefined, ADDRESS, CAPS), 'websockets_per_ip');
    assert.equal(await b.admit(socket(), undefined, '198.51.100.1', CAPS), undefined, 'another address has its own count');
    assert.equal(a.size, 1, 'a refused socket holds no lease');
    first.destroy();
    await until(async () => (await members(addressLeaseKey(ADDRESS))).length === 1, 'the closed socket’s lease is given back');
    assert.equal(a.size, 0);
    assert.equal(await b.admit(socket(), undefined, ADDRESS, CAPS), undefined, 'the slot is free on the other instance');
  });

  it('counts a session over both instances', async () => {
    const a = await leases();
    const b = await leases();
    assert.equal(await a.admit(socket(), 's-1', ADDRESS, CAPS), undefined);
    assert.equal(await b.admit(socket(), 's-1', '198.51.100.1', CAPS), 'websockets_per_session');
    assert.equal(await b.admit(socket(), 's-2', '198.51.100.1', CAPS), undefined);
  });

  it('gives back the lease of a socket that closed while Redis was answering', async () => {
    const a = await leases();
    const closing = socket();
    const answer = a.admit(closing, 's-1', ADDRESS, CAPS);
    closing.destroy();
    assert.equal(await answer, undefined);
    await until(async () => (await members(addressLeaseKey(ADDRESS))).length === 0 && (await members(sessionLeaseKey('s-1'))).length === 0, 'no lease left');
    assert.equal(a.size, 0);
  });

  it('gives the lease back when Redis had forgotten the script (the retry goes after the release)', async () => {
    const a = await leases();
    await admin.client.script('FLUSH');
    const closing = socket();
    const answer = a.admit(closing, undefined, ADDRESS, CAPS);
    closing.destroy();
    await answer;
    await until(async () => (await members(addressLeaseKey(ADDRESS))).length === 0, 'the late write removed again');
  });

  it('a refusal by the shared count gives the local count back', async () => {
    const a = await leases();
    const b = await leases();
    const onA = new WebSocketCaps(a);
    const caps = new WebSocketCaps(b);
    assert.equal(await onA.admit(socket(), undefined, ADDRESS, CAPS), undefined);
    assert.equal(await onA.admit(socket(), undefined, ADDRESS, CAPS), undefined);
    assert.equal(await caps.admit(socket(), undefined, ADDRESS, CAPS), 'websockets_per_ip');
    assert.deepEqual(caps.counts(undefined, ADDRESS), { session: 0, address: 0 }, 'the refused socket is not counted here');
  });

  it('renews the leases of open sockets, and an instance that stops renewing stops counting within one lease', async () => {
    const dying = await connection();
    const a = await leases({ leaseMs: 600, renewIntervalMs: 100 }, dying);
    const b = await leases({ leaseMs: 600, renewIntervalMs: 100 });
    assert.equal(await a.admit(socket(), undefined, ADDRESS, CAPS), undefined);
    assert.equal(await b.admit(socket(), undefined, ADDRESS, CAPS), undefined);
    // Several leases long: the renewals keep both counted.
    await sleep(1_500);
    assert.equal(await b.admit(socket(), undefined, ADDRESS, CAPS), 'websockets_per_ip', 'renewed leases still count');
    // The instance dies without a word: its connection is gone, nothing renews or releases its lease.
    dying.client.disconnect();
    await until(async () => (await b.admit(socket(), undefined, ADDRESS, CAPS)) === undefined, 'the dead instance’s lease ends');
    assert.deepEqual((await members(addressLeaseKey(ADDRESS))).length, 2, 'b’s two sockets, none of a’s');
  });

  it('writes the leases back after Redis lost them (a restart without persistence)', async () => {
    const a = await leases({ leaseMs: 2_000, renewIntervalMs: 100 });
    assert.equal(await a.admit(socket(), 's-1', ADDRESS, CAPS), undefined);
    await admin.client.flushall();
    await until(async () => (await members(sessionLeaseKey('s-1'))).length === 1, 'the renewal wrote it back');
    assert.equal((await members(addressLeaseKey(ADDRESS))).length, 1);
  });

  it('admits on the local counts alone while Redis cannot be reached, and counts the failure', async () => {
    const registry = new Registry();
    const cut = await connection();
    const a = await leases({ registry, timeoutMs: 200 }, cut);
    cut.client.disconnect();
    const caps = new WebSocketCaps(a);
    assert.equal(await caps.admit(socket(), undefined, ADDRESS, CAPS), undefined);
    assert.equal(await caps.admit(socket(), undefined, ADDRESS, CAPS), undefined);
    assert.equal(caps.admit(socket(), undefined, ADDRESS, CAPS), 'websockets_per_ip', 'the local cap still holds, without a store call');
    assert.match(await registry.getSingleMetricAsString('gatehouse_websocket_lease_errors_total'), /operation="admit"\} 2$/m);
  });

  it('gives back every lease when the gateway closes', async () => {
    const a = await leases();
    await a.admit(socket(), 's-1', ADDRESS, CAPS);
    await a.admit(socket(), undefined, ADDRESS, CAPS);
    a.close();
    await until(async () => (await admin.client.exists(addressLeaseKey(ADDRESS), sessionLeaseKey('s-1'))) === 0, 'both sets empty');
    assert.equal(await a.admit(socket(), undefined, ADDRESS, CAPS), undefined, 'a closed instance counts nothing shared');
    assert.equal(a.size, 0);
  });

  it('refuses lease timing that would end leases of open sockets', async () => {
    const on = await connection();
    assert.throws(() => new RedisWebSocketLeases(on, { leaseMs: 1_000, renewIntervalMs: 1_000 }), GatehouseConfigError);
    assert.throws(() => new RedisWebSocketLeases(on, { timeoutMs: 0 }), GatehouseConfigError);
    assert.throws(() => createWebSocketCaps({ redis: undefined, leaseMs: 100, renewIntervalMs: 200 }), GatehouseConfigError, 'checked without Redis too');
  });
});
