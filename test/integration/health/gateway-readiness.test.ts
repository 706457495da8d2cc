import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createDevCa, type DevCa } from '../../../dev/lib/dev-ca.ts';
import { startIdentityProvider, type DevIdentityProvider } from '../../../dev/lib/identity-provider/index.ts';
import { createGatewayServer, type GatewayServer } from '../../../src/gateway/standalone-server.ts';
import type { Readiness } from '../../../src/health/readiness.ts';
import { startEchoBackend, type EchoBackend } from '../../support/backend.ts';
import { freePort } from '../../support/free-port.ts';
import { startRedisServer, type RedisServer } from '../../support/redis-server.ts';
import { SECRET_1 } from '../../support/stack.ts';
import { parseExposition } from '../metrics/scrape.ts';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One plain HTTP request to 127.0.0.1:port with the Host header given. */
function get(port: number, path: string, options: { host?: string; method?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { host: options.host ?? `127.0.0.1:${port}` };
    // A connection of its own each time: one kept alive from before a close would answer "socket hang up" instead.
    const req = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitUntil(condition: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('health: a gateway on its own server with an admin listener, its identity provider and Redis coming and going', function () {
  this.timeout(90_000);
  let ca: DevCa;
  let idpPort: number;
  let idp: DevIdentityProvider | undefined;
  let redis: RedisServer;
  let backend: EchoBackend;
  let service: GatewayServer;
  let port: number;
  let adminPort: number;
  let closed = false;

  const readyz = async (): Promise<{ status: number; report: Readiness }> => {
    const answer = await get(port, '/.gatehouse/readyz', { host: 'wiki.localhost' });
    return { status: answer.status, report: JSON.parse(answer.body) as Readiness };
  };

  before(async () => {
    ca = createDevCa({ commonName: 'Gatehouse health test CA' });
    idpPort = await freePort();
    redis = await startRedisServer();
    backend = await startEchoBackend();
    service = createGatewayServer({
      identityProvider: { issuer: `https://127.0.0.1:${idpPort}`, clientId: 'gatehouse-test', clientSecret: 'gatehouse-test-client-secret', ca: ca.certPem },
      session: { secrets: [{ id: 1, secret: SECRET_1 }] },
      store: { url: redis.url },
      server: { host: '127.0.0.1', port: 0 },
      admin: { listen: '127.0.0.1:0' },
      apps: [{ id: 'wiki', externalUrl: 'http://wiki.localhost', internalUrl: backend.url }],
    });
    port = (await service.listen()).port;
    const admin = service.admin?.address();
    assert.ok(admin, 'listen() opened the admin listener');
    assert.equal(admin.address, '127.0.0.1');
    adminPort = admin.port;
  });
  after(async () => {
    if (!closed) await service?.close({ timeoutMs: 1_000 });
    await idp?.close();
    await redis?.close();
    await backend?.close();
  });

  it('is not ready, naming the identity provider, while it cannot be discovered', async () => {
    const { status, report } = await readyz();
    assert.equal(status, 503);
    assert.equal(report.status, 'not_ready');
    assert.equal(report.checks.idp.ok, false);
    assert.match(report.checks.idp.detail, /^not discovered: discovery_failed/);
    assert.deepEqual(report.checks.store, { ok: true, detail: 'redis: reachable' });
    assert.deepEqual(report.checks.connectors, {}, 'apps reached directly need no connector');
    assert.ok(!JSON.stringify(report).includes(String(idpPort)), 'no address in the answer');
    assert.equal(backend.requests.length, 0);
  });

  it('the admin listener serves the same checks, liveness and metrics, and 404 for anything else', async () => {
    const ready = await get(adminPort, '/.gatehouse/readyz');
    assert.equal(ready.status, 503);
    assert.equal((JSON.parse(ready.body) as Readiness).checks.idp.ok, false);
    assert.equal(ready.headers['cache-control'], 'no-store');
    const live = await get(adminPort, '/.gatehouse/healthz');
    assert.equal(live.status, 200);
    assert.deepEqual(JSON.parse(live.body), { status: 'ok' });
    const metrics = await get(adminPort, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(String(metrics.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const names = new Set(parseExposition(metrics.body).map((sample) => sample.name));
    assert.ok(names.has('gatehouse_process_cpu_user_seconds_total'), 'Node process metrics');
    assert.ok(names.has('gatehouse_nodejs_eventloop_lag_seconds'));
    assert.equal((await get(adminPort, '/metrics', { method: 'HEAD' })).body, '');
    assert.equal((await get(adminPort, '/metrics', { method: 'POST' })).status, 405);
    assert.equal((await get(adminPort, '/')).status, 404);
    assert.equal((await get(adminPort, '/.gatehouse/jwks.json')).status, 404);
    assert.equal((await get(port, '/metrics', { host: 'wiki.localhost' })).status, 401, 'metrics are not served on published hosts');
    assert.equal(backend.requests.length, 0);
  });

  it('becomes ready by itself once the identity provider answers', async () => {
    idp = await startIdentityProvider({ ca, port: idpPort, clients: [] });
    await waitUntil(async () => (await readyz()).status === 200, 'ready after the identity provider started');
    const { report } = await readyz();
    assert.deepEqual(report, {
      status: 'ready',
      checks: { idp: { ok: true, detail: 'discovered' }, store: { ok: true, detail: 'redis: reachable' }, connectors: {} },
    });
    assert.equal((await get(adminPort, '/.gatehouse/readyz')).status, 200);
  });

  it('is not ready, naming the store, while Redis is stopped, and ready again once it is back', async () => {
    await redis.stop();
    await waitUntil(async () => (await readyz()).status === 503, 'not ready without Redis');
    const { report } = await readyz();
    assert.equal(report.checks.store.ok, false);
    assert.match(report.checks.store.detail, /^redis: not reachable/);
    assert.equal(report.checks.idp.ok, true);
    assert.ok(!JSON.stringify(report).includes(String(redis.port)), 'no address in the answer');
    assert.equal((await get(port, '/.gatehouse/healthz', { host: 'wiki.localhost' })).status, 200, 'still alive');
    await redis.start();
    await waitUntil(async () => (await readyz()).status === 200, 'ready again with Redis back');
  });

  it('close() closes the admin listener too', async () => {
    closed = true;
    await service.close({ timeoutMs: 1_000 });
    assert.equal(service.admin?.address(), undefined);
    await assert.rejects(get(adminPort, '/.gatehouse/healthz'), /ECONNREFUSED/);
  });
});
