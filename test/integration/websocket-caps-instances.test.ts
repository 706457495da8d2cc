import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { memorySink } from '../../src/audit/audit-log.ts';
import { RedisConnection } from '../../src/store/redis-connection.ts';
import { startGatewayInstance, type GatewayInstance } from '../support/gateway-instance.ts';
import { toLoopback } from '../support/loopback.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';
import { startTcpBalancer, type TcpBalancer } from '../support/tcp-balancer.ts';
import { webSocketOutcome, type WebSocketRefusal } from '../support/websocket-outcome.ts';

const PER_IP = 3;
const PER_SESSION = 2;
/** Short leases, so that an instance gone without a word stops counting within a test; a long wait for Redis, so that a loaded machine does not fall back. */
const LEASES = { leaseMs: 1_500, renewIntervalMs: 250, timeoutMs: 5_000 };
const REFUSED: WebSocketRefusal = { status: 429, code: 'ERR_TOO_MANY_WEBSOCKETS', retryAfter: '10' };
const HOSTS = ['wiki.gatehouse.test', 'open.gatehouse.test'];

/** Polls until `check` holds; the deadline only stops a test that would otherwise hang. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await sleep(50);
  }
}

/**
 * Gateway instances on one Redis, every client 127.0.0.1: the WebSocket caps per address and per session count the
 * sockets of every instance, an instance that closes or is cut off stops counting (at once, or within one lease), and
 * with Redis stopped each instance falls back to its own counts and the shared ones come back with Redis.
 */
describe('WebSocket caps across instances sharing Redis', function () {
  this.timeout(120_000);
  let redis: RedisServer;
  let admin: RedisConnection;
  let stack: Stack;
  let a: { port: number };
  let b: GatewayInstance;
  const sockets: WebSocket[] = [];
  const instances: GatewayInstance[] = [];
  const proxies: TcpBalancer[] = [];

  before(async () => {
    redis = await startRedisServer();
    admin = await RedisConnection.open(redis.url);
    stack = await startStack({
      configure: (config) => ({ ...config, store: { url: redis.url }, limits: { streams: { websocketsPerIp: PER_IP, websocketsPerSession: PER_SESSION } } }),
      gatewayOptions: { websocketLeases: LEASES },
    });
    a = { port: stack.port };
    b = await instance();
  });
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.terminate();
    await until(async () => (await leasesHeld()) === 0, 'every lease given back');
  });
  after(async () => {
    for (const socket of sockets) socket.terminate();
    for (const each of instances) await each.close();
    for (const proxy of proxies) await proxy.close();
    await stack?.close();
    await admin?.close();
    await redis?.close();
  });

  async function instance(storeUrl = redis.url): Promise<GatewayInstance> {
    const started = await startGatewayInstance({ ...stack, config: { ...stack.config, store: { url: storeUrl } } }, HOSTS, {
      audit: memorySink(),
      websocketLeases: LEASES,
    });
    instances.push(started);
    return started;
  }

  /** Leases in Redis now, over every set. */
  async function leasesHeld(): Promise<number> {
    try {
      const keys = await admin.client.keys('{gatehouse:ws}:*');
      const counts = await Promise.all(keys.map((key) => admin.client.zcard(key)));
      return counts.reduce((sum, count) => sum + count, 0);
    } catch {
      // Redis is stopped, or this connection has not reconnected yet.
      return -1;
    }
  }

  /** A WebSocket to the echo of `app` through the instance on `port`. */
  function connect(port: number, app: 'open' | 'wiki' = 'open', cookie?: string): WebSocket {
    const origin = stack.urls[app];
    const socket = new WebSocket(`wss://${app}.gatehouse.test:${port}/ws`, {
      ca: stack.ca.certPem,
      lookup: toLoopback,
      headers: { host: new URL(origin).host, origin, ...(cookie ? { cookie } : {}) },
      perMessageDeflate: false,
    });
    socket.on('error', () => undefined);
    sockets.push(socket);
    return socket;
  }

  const open = (port: number, app: 'open' | 'wiki' = 'open', cookie?: string) => webSocketOutcome(connect(port, app, cookie));

  async function close(socket: WebSocket): Promise<void> {
    const done = new Promise((resolve) => socket.once('close', resolve));
    socket.close();
    await done;
  }

  it('refuses the WebSocket once the sockets opened alternately on both instances reach the per-address cap, and a close frees a slot on the other', async () => {
    assert.equal(await open(a.port), 'open');
    assert.equal(await open(b.port), 'open');
    assert.equal(await open(a.port), 'open');
    assert.deepEqual(await open(b.port), REFUSED, 'the second instance holds one itself, the first two');
    assert.deepEqual(await open(a.port), REFUSED);
    assert.equal(stack.audit.ofType('request.rejected').at(-1)?.reason, 'upgrade:websockets_per_ip');
    await close(sockets[0]!);
    assert.equal(await open(b.port), 'open', 'the slot freed on the first instance is taken on the second');
    assert.equal(await leasesHeld(), PER_IP);
  });

  it('refuses the WebSocket past the per-session cap over both instances', async () => {
    const alice = stack.browser();
    await signIn(stack, alice, 'alice');
    const cookie = await alice.jar.getCookieString(`${stack.urls.wiki}/`);
    assert.equal(await open(a.port, 'wiki', cookie), 'open');
    assert.equal(await open(b.port, 'wiki', cookie), 'open');
    assert.deepEqual(await open(a.port, 'wiki', cookie), REFUSED);
    assert.equal(stack.audit.ofType('request.rejected').at(-1)?.reason, 'upgrade:websockets_per_session');
  });

  it('frees the slots of an instance that closes at once, and of one cut off from Redis within one lease', async () => {
    const closing = await instance();
    assert.deepEqual(await Promise.all([open(closing.port), open(closing.port), open(a.port)]), ['open', 'open', 'open']);
    assert.deepEqual(await open(b.port), REFUSED);
    // The gateway closes while its WebSockets are still open: their leases go with it, not with the sockets.
    await closing.gateway.close();
    await until(async () => (await leasesHeld()) === 1, 'the closed instance gave its leases back');
    assert.equal(await open(b.port), 'open');
    for (const socket of sockets.slice(0, 2)) socket.terminate();
    await new Promise((resolve) => closing.server.close(resolve));
    instances.splice(instances.indexOf(closing), 1);

    // An instance reaching Redis through a proxy; cutting the proxy leaves it as a dead one is to the others: no renewal, no release.
    const proxy = await startTcpBalancer([redis.port]);
    proxies.push(proxy);
    const cutOff = await instance(`redis://127.0.0.1:${proxy.port}`);
    assert.equal(await open(cutOff.port), 'open');
    assert.deepEqual(await open(b.port), REFUSED, 'three open: one on each instance');
    await proxy.close();
    await until(async () => (await leasesHeld()) === 2, 'the cut-off instance’s lease ended');
    assert.equal(await open(b.port), 'open');
  });

  it('falls back to each instance’s own caps while Redis is stopped, and counts over both again once it is back', async () => {
    await redis.stop();
    const onA = [await open(a.port), await open(a.port), await open(a.port)];
    assert.deepEqual(onA, ['open', 'open', 'open'], 'admitted on the local count: never refused for everyone');
    assert.deepEqual(await open(a.port), REFUSED, 'the local cap still holds');
    const aSockets = sockets.slice(0, 3);
    assert.deepEqual(
      await Promise.all([open(b.port), open(b.port), open(b.port)]),
      ['open', 'open', 'open'],
      'each instance to its own cap: the documented error',
    );
    const bSockets = sockets.slice(4, 7);
    assert.match(await stack.gateway.metrics.getSingleMetricAsString('gatehouse_websocket_lease_errors_total'), /operation="admit"\} [1-9]/);

    await close(aSockets[0]!);
    await close(aSockets[1]!);
    await redis.start();
    // The renewals write back what is open: one on the first instance, three on the second.
    await until(async () => (await leasesHeld()) === 4, 'the open sockets counted in Redis again');
    assert.deepEqual(await open(a.port), REFUSED, 'the first instance holds one, yet the second’s three count');
    await close(bSockets[0]!);
    await close(bSockets[1]!);
    await until(async () => (await leasesHeld()) === 2, 'the closes given back');
    assert.equal(await open(a.port), 'open');
  });
});
