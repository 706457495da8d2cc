import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { BrowserClient } from '../../dev/lib/browser-client.ts';
import { startRegisteredConnector, type RunningConnector } from '../../dev/lib/connector-process.ts';
import { createDevCa, type DevCa } from '../../dev/lib/dev-ca.ts';
import { adminTokens, CONNECTOR_SCOPE } from '../../dev/lib/device-approval.ts';
import type { DevIdentityProvider } from '../../dev/lib/identity-provider/index.ts';
import { startNode, type RunningProcess } from '../../dev/lib/processes.ts';
import { startEchoBackend, type EchoBackend } from '../support/backend.ts';
import { freePort, freePortRun } from '../support/free-port.ts';
import { startClusterIdentityProvider } from '../support/gateway-cluster.ts';
import { httpsText } from '../support/https-text.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';

const CLI = fileURLToPath(new URL('../../src/cli/gatehouse.ts', import.meta.url));
const CLIENT_ID = 'gatehouse-workers';
const CLIENT_SECRET = 'gatehouse-workers-client-secret';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `gatehouse serve --workers 2`: real processes, a real Redis, a real identity provider and a real connector. */
describe('gatehouse serve --workers', function () {
  this.timeout(180_000);
  let dir: string;
  let ca: DevCa;
  let redis: RedisServer;
  let backend: EchoBackend;
  let idp: DevIdentityProvider;
  let serve: RunningProcess | undefined;
  let connector: RunningConnector | undefined;
  let port: number;
  let connectorBase: number;
  let adminBase: number;
  let wikiUrl: string;
  const closers: Array<() => Promise<unknown>> = [];

  function writeConfig(name: string, storeUrl: string): string {
    const file = join(dir, `${name}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        server: { host: '127.0.0.1', port, tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') } },
        identityProvider: {
          issuer: idp.issuer,
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          caFile: join(dir, 'ca.pem'),
          scopes: ['openid', 'profile', 'email'],
        },
        session: { secrets: [{ id: 1, secret: 'workers-session-secret-shared-by-every-worker-0123456789' }] },
        apps: [{ id: 'wiki', externalUrl: wikiUrl, internalUrl: backend.url }],
        connectors: {
          listen: { host: '127.0.0.1', port: connectorBase },
          publicUrl: `https://localhost:${connectorBase}`,
          tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
          stateDir: join(dir, 'state'),
          heartbeatInterval: '1s',
          admin: { scope: CONNECTOR_SCOPE },
        },
        admin: { listen: `127.0.0.1:${adminBase}` },
        store: { url: storeUrl },
      }),
    );
    return file;
  }

  function get(path: string, cookie: string): Promise<{ status: number; body: string }> {
    return httpsText({ host: '127.0.0.1', port, path, servername: 'wiki.localhost', ca: ca.certPem, headers: { host: `wiki.localhost:${port}`, cookie } });
  }

  /** The worker that wrote the access line of each path, from the JSON lines on stdout. */
  function servedBy(output: string): Map<string, number> {
    const workers = new Map<string, number>();
    for (const line of output.split('\n')) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as { worker?: number; path?: string; url?: string; req?: { url?: string } };
      const path = entry.path ?? entry.url ?? entry.req?.url;
      if (entry.worker !== undefined && path !== undefined) workers.set(path, entry.worker);
    }
    return workers;
  }

  function workerPids(stderr: string): Map<number, number> {
    const pids = new Map<number, number>();
    for (const match of stderr.matchAll(/worker (\d+) started \(pid (\d+)\)/g)) pids.set(Number(match[1]), Number(match[2]));
    return pids;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-workers-'));
    mkdirSync(join(dir, 'state'), { mode: 0o700 });
    ca = createDevCa({ commonName: 'Gatehouse workers test CA' });
    writeFileSync(join(dir, 'ca.pem'), ca.certPem);
    const tls = ca.issueServerCertificate(['wiki.localhost', 'localhost', '127.0.0.1']);
    writeFileSync(join(dir, 'tls.crt'), tls.certPem);
    writeFileSync(join(dir, 'tls.key'), tls.keyPem, { mode: 0o600 });
    [port, connectorBase, adminBase] = [await freePort(), await freePortRun(2), await freePortRun(2)];
    wikiUrl = `https://wiki.localhost:${port}`;
    redis = await startRedisServer();
    closers.push(() => redis.close());
    backend = await startEchoBackend();
    closers.push(() => backend.close());
    idp = await startClusterIdentityProvider(ca, wikiUrl, { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    closers.push(() => idp.close());
  });
  after(async () => {
    await connector?.process.stop('SIGTERM');
    await serve?.stop('SIGKILL');
    for (const close of closers.reverse()) await close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses more than one worker on a store each process would keep for itself', async () => {
    for (const storeUrl of ['memory:', `sqlite:${join(dir, 'state', 'workers.db')}`]) {
      const refused = startNode(CLI, ['serve', '--config', writeConfig('local', storeUrl), '--workers', '2'], { env: { GATEHOUSE_STORE_URL: '' } });
      assert.equal(await refused.stop('SIGCONT'), 1, refused.stderr());
      assert.match(refused.stderr(), /--workers 2 needs a shared store: store\.url \(or GATEHOUSE_STORE_URL\) must be redis:\/\//);
      assert.doesNotMatch(refused.stderr(), /worker 1 started/);
    }
  });

  it('stops with exit 1 when a worker keeps dying before its store answers', async () => {
    const closed = await freePort();
    const failing = startNode(
      CLI,
      ['serve', '--config', writeConfig('unreachable', `redis://127.0.0.1:${closed}`), '--workers', '2', '--log-level', 'silent'],
      {
        env: { GATEHOUSE_STORE_URL: '' },
      },
    );
    assert.equal(await failing.stop('SIGCONT'), 1, failing.stderr());
    assert.match(failing.stderr(), /worker \d died 5 times in a row before it started \(last: code 1\); stopping the gateway/);
    assert.match(failing.stderr(), /all workers stopped/);
    for (const pid of workerPids(failing.stderr()).values()) assert.equal(alive(pid), false, `pid ${pid} still runs`);
  });

  it('runs two workers as two instances: tunnels to each, one cookie served by both, a killed worker restarted, SIGTERM stops all', async () => {
    serve = startNode(CLI, ['serve', '--config', writeConfig('redis', redis.url), '--workers', '2', '--log-level', 'info'], {
      env: { GATEHOUSE_STORE_URL: '' },
    });
    const running = serve;
    for (const worker of [1, 2]) await running.waitFor(new RegExp(`worker ${worker} started \\(pid \\d+\\)`), 30_000);
    await running.waitFor(/identity provider .* discovered[\s\S]*identity provider .* discovered/, 60_000);
    const first = workerPids(running.stderr());
    assert.equal(first.size, 2);

    // Both workers are instances in the registry, each with its own connector port.
    const client = new Redis(redis.url);
    closers.push(() => client.quit());
    const keys = await client.keys('*instance:*');
    assert.equal(keys.length, 2, `instance records: ${keys.join(', ')}`);
    const records = (await Promise.all(keys.map((key) => client.get(key)))).join(' ');
    assert.match(records, new RegExp(`https://localhost:${connectorBase}"`));
    assert.match(records, new RegExp(`https://localhost:${connectorBase + 1}"`));
    // Each worker answers health and metrics on its own admin port.
    for (const adminPort of [adminBase, adminBase + 1]) assert.equal((await fetch(`http://127.0.0.1:${adminPort}/.gatehouse/healthz`)).status, 200);

    // A connector dials every worker, as it dials every instance.
    const tokens = await adminTokens(idp.issuer, ca.certPem);
    closers.push(() => tokens.close());
    connector = await startRegisteredConnector(
      {
        connectorUrl: `https://localhost:${connectorBase}`,
        connectorCaFile: join(dir, 'ca.pem'),
        adminToken: (user = 'alice') => tokens.get(user, `${user}-password`),
      },
      join(dir, 'connector'),
      ['--allow', '127.0.0.1/32'],
    );
    const tunnelled = (): Set<string> =>
      new Set([...connector!.process.stderr().matchAll(/tunnel-\d+@(gw-[0-9a-f]+) link connected/g)].map((match) => match[1]!));
    for (const deadline = Date.now() + 30_000; tunnelled().size < 2; await delay(200)) {
      if (Date.now() > deadline) assert.fail(`the connector is not tunnelled to both workers:\n${connector.process.stderr()}`);
    }

    // One sign-in, one cookie: requests on new connections land on both workers and are served.
    const browser = new BrowserClient({ ca: ca.certPem });
    closers.push(() => browser.close());
    const signedIn = await browser.signIn(`${wikiUrl}/start`, 'alice', 'alice-password');
    assert.equal(signedIn.response.status, 200, await signedIn.response.text());
    const cookie = await browser.jar.getCookieString(`${wikiUrl}/`);
    for (let index = 0; index < 10; index += 1) assert.equal((await get(`/spread-${index}`, cookie)).status, 200);
    await delay(200);
    const spread = servedBy(running.stdout());
    const workersServing = new Set([...Array(10).keys()].map((index) => spread.get(`/spread-${index}`)));
    assert.deepEqual([...workersServing].sort(), [1, 2], `the workers that served: ${[...spread].join(' ')}`);

    // SIGKILL one worker: the primary starts it again, and requests keep being served.
    const killed = first.get(2)!;
    process.kill(killed, 'SIGKILL');
    await running.waitFor(new RegExp(`worker 2 \\(pid ${killed}\\) died \\(signal SIGKILL\\); starting it again in \\d+ ms`));
    const again = await running.waitFor(/died \(signal SIGKILL\)[\s\S]*worker 2 started \(pid (\d+)\)[\s\S]*identity provider .* discovered/, 60_000);
    const restarted = Number(again[1]);
    assert.notEqual(restarted, killed);
    for (const deadline = Date.now() + 30_000; tunnelled().size < 3; await delay(200)) {
      if (Date.now() > deadline) assert.fail(`the connector is not tunnelled to the restarted worker:\n${connector.process.stderr()}`);
    }
    for (let index = 0; index < 10; index += 1) assert.equal((await get(`/after-${index}`, cookie)).status, 200);
    await delay(200);
    const after = servedBy(running.stdout());
    assert.ok(
      [...Array(10).keys()].some((index) => after.get(`/after-${index}`) === 2),
      'the restarted worker serves',
    );

    // SIGHUP to the primary: every worker reloads the file.
    running.child.kill('SIGHUP');
    await running.waitFor(/SIGHUP, reloading 2 workers/);
    await running.waitFor(/(reloaded \S+redis\.json \(nothing changed\)[\s\S]*){2}/);

    // SIGTERM to the primary: every worker drains and stops, nothing is left behind.
    assert.equal(await running.stop('SIGTERM'), 0, running.stderr());
    serve = undefined;
    assert.match(running.stderr(), /SIGTERM, stopping 2 workers/);
    assert.match(running.stderr(), /all workers stopped/);
    for (const pid of [running.child.pid!, first.get(1)!, restarted]) assert.equal(alive(pid), false, `pid ${pid} still runs`);
    // Workers that stop cleanly remove their records; the killed one's may still wait for its expiry.
    assert.ok((await client.keys('*instance:*')).length <= 1, 'workers that stop cleanly remove their instance records');
  });
});
