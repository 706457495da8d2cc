import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import type { BrowserClient } from '../../dev/lib/browser-client.ts';
import type { GatewayConfigInput } from '../../src/config/schema.ts';
import { reloadHandler, type ReloadResult } from '../../src/index.ts';
import { startConnectorStack, type ConnectorStack } from '../support/connector-stack.ts';
import { toLoopback } from '../support/loopback.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

type AppInput = GatewayConfigInput['apps'][number];

/** What a reload applied, without its warnings (the stack's apps share one backend, which is warned about each time). */
function outcome(result: ReloadResult): { applied: boolean; changed?: readonly string[] } {
  return result.applied ? { applied: true, changed: result.changed } : { applied: false };
}

/** The stack's configuration with its apps changed by `change`. */
function withApps(config: GatewayConfigInput, change: (apps: AppInput[]) => AppInput[]): GatewayConfigInput {
  return { ...config, apps: change([...config.apps]) };
}

/** Requests that keep going while reloads happen: each failure (a status other than the expected one, or a network error) is kept. */
class SteadyLoad {
  readonly failures: string[] = [];
  answered = 0;
  #running = true;
  readonly #loops: Promise<void>[] = [];

  add(name: string, once: () => Promise<number>, expected = 200): void {
    this.#loops.push(
      (async () => {
        while (this.#running) {
          try {
            const status = await once();
            this.answered += 1;
            if (status !== expected) this.failures.push(`${name}: ${status}`);
          } catch (error) {
            this.failures.push(`${name}: ${(error as Error).message}`);
          }
        }
      })(),
    );
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }
}

describe('live reload under load (gateway.reload and the reload endpoint)', function () {
  this.timeout(120_000);
  let stack: Stack;
  let agent: Agent;
  let admin: Server;
  let adminUrl: string;

  before(async () => {
    stack = await startStack();
    agent = new Agent({ connect: { ca: stack.ca.certPem, lookup: toLoopback } });
    // Stands in for the admin listener: the handler on a loopback server of its own.
    const handle = reloadHandler((by) => stack.gateway.reload(nextConfig(), by));
    admin = createServer((req, res) => handle(req, res));
    await new Promise<void>((resolve) => admin.listen(0, '127.0.0.1', resolve));
    adminUrl = `http://127.0.0.1:${(admin.address() as AddressInfo).port}/.gatehouse/admin/reload`;
  });
  after(async () => {
    admin.closeAllConnections();
    await new Promise<void>((resolve) => admin.close(() => resolve()));
    await agent.close();
    await stack.close();
  });

  /** What the reload endpoint reloads next (the endpoint of `gatehouse serve` reads its file instead). */
  let pending: GatewayConfigInput;
  const nextConfig = (): GatewayConfigInput => pending;

  async function viaEndpoint(config: GatewayConfigInput): Promise<{ status: number; result: ReloadResult }> {
    pending = config;
    const response = await request(adminUrl, { method: 'POST', headers: { 'user-agent': 'reload-test' } });
    return { status: response.statusCode, result: (await response.body.json()) as ReloadResult };
  }

  async function status(url: string, browser?: BrowserClient): Promise<number> {
    if (browser) {
      const response = await browser.request(url, { headers: { accept: 'application/json' } });
      await response.text();
      return response.status;
    }
    const response = await request(url, { dispatcher: agent });
    await response.body.text();
    return response.statusCode;
  }

  async function seenByBackend(browser: BrowserClient, url: string): Promise<Record<string, string>> {
    const response = await browser.request(url, { headers: { accept: 'application/json' } });
    assert.equal(response.status, 200);
    return ((await response.json()) as { headers: Record<string, string> }).headers;
  }

  it('applies apps, policies and identity headers to new requests, refuses a bad file and a restart-only change, and fails no request', async () => {
    const { urls } = stack;
    const alice = stack.browser();
    await signIn(stack, alice, 'alice', '/');
    await alice.signIn(`${urls.other}/`, 'alice', 'alice-password');

    const load = new SteadyLoad();
    load.add('anonymous', () => status(`${urls.open}/hello`));
    load.add('signed in', () => status(`${urls.wiki}/page`, alice));
    // Each takes a second: reloads land while they are in flight.
    load.add('slow', () => status(`${urls.open}/sse?count=5&every=200`));
    load.add('slow signed in', () => status(`${urls.wiki}/sse?count=5&every=200`, alice));
    await sleep(300);
    try {
      await reloadTenTimes(alice);
    } finally {
      await load.stop();
    }
    assert.deepEqual(load.failures, []);
    assert.ok(load.answered > 20, `only ${load.answered} requests answered`);

    // Every reload is audited with who asked and what it did.
    const reloads = stack.audit.events.filter((event) => event.type === 'config.reloaded');
    assert.equal(reloads.length, 10);
    const endpoint = reloads.filter((event) => event.details?.['source'] === 'admin');
    assert.equal(endpoint.length, 5);
    assert.ok(endpoint.every((event) => event.clientIp === '127.0.0.1' && event.userAgent === 'reload-test'));
    assert.deepEqual(
      reloads.map((event) => event.outcome),
      ['success', 'success', 'success', 'success', 'failure', 'failure', 'success', 'success', 'success', 'success'],
    );
    assert.match(String(reloads[5]?.details?.['problems']), /session\.cookieName/);
  });

  async function reloadTenTimes(alice: BrowserClient): Promise<void> {
    const { urls } = stack;
    const base = stack.config;
    // 1. A new app, through the endpoint: reachable at once.
    assert.equal(await status(`${urls.unknown}/`), 404);
    const added = withApps(base, (apps) => [...apps, { id: 'added', externalUrl: urls.unknown, internalUrl: stack.backend.url, preauth: 'passthrough' }]);
    const first = await viaEndpoint(added);
    assert.equal(first.status, 200, JSON.stringify(first.result));
    assert.deepEqual(outcome(first.result), { applied: true, changed: ['apps[added] added'] });
    assert.equal(await status(`${urls.unknown}/`), 200);

    // 2. A policy that blocks alice on "other": denied; 3. taken away again: allowed.
    const blocked = withApps(added, (apps) =>
      apps.map((app) =>
        app.id === 'other'
          ? { ...app, policies: [{ name: 'not alice', conditions: { claims: [{ claim: 'email', equals: 'alice@gatehouse.test' }] }, grant: { block: true } }] }
          : app,
      ),
    );
    assert.deepEqual(outcome(await stack.gateway.reload(blocked)), { applied: true, changed: ['apps[other] changed'] });
    assert.equal(await status(`${urls.other}/`, alice), 403);
    assert.equal((await viaEndpoint(added)).result.applied, true);
    assert.equal(await status(`${urls.other}/`, alice), 200);

    // 4. Identity headers: the backend sees them from the next request on.
    assert.equal((await seenByBackend(alice, `${urls.wiki}/who`))['x-remote-user'], undefined);
    const headers = withApps(added, (apps) => apps.map((app) => (app.id === 'wiki' ? { ...app, identityHeaders: { 'X-Remote-User': 'email' } } : app)));
    assert.equal((await stack.gateway.reload(headers)).applied, true);
    assert.equal((await seenByBackend(alice, `${urls.wiki}/who`))['x-remote-user'], 'alice@gatehouse.test');

    // 5. A bad configuration: every problem named by path, and the running one stays.
    const bad = withApps(headers, (apps) =>
      apps.map((app) => (app.id === 'open' ? { ...app, internalUrl: 'not a url', preauth: 'sometimes' as 'oidc' } : app)),
    );
    const refused = await viaEndpoint(bad);
    assert.equal(refused.status, 422);
    assert.equal(refused.result.applied, false);
    const problems = refused.result.applied ? [] : refused.result.problems;
    assert.ok(
      problems.some((problem) => problem.startsWith('apps[2].internalUrl:')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((problem) => problem.startsWith('apps[2].preauth:')),
      problems.join('\n'),
    );
    assert.equal(await status(`${urls.unknown}/`), 200);
    assert.equal((await seenByBackend(alice, `${urls.wiki}/who`))['x-remote-user'], 'alice@gatehouse.test');

    // 6. A key that needs a restart: refused by name, nothing else applied with it.
    const restartOnly = withApps({ ...headers, session: { ...headers.session, cookieName: 'other-cookie' } }, (apps) =>
      apps.filter((app) => app.id !== 'added'),
    );
    const restart = await stack.gateway.reload(restartOnly);
    assert.deepEqual(restart, { applied: false, problems: ['session.cookieName: cannot change while the gateway runs (restart to apply)'] });
    assert.equal(await status(`${urls.unknown}/`), 200);

    // 7-10. Removing the app, more reloads back and forth, an unchanged one.
    assert.deepEqual(outcome((await viaEndpoint(withApps(headers, (apps) => apps.filter((app) => app.id !== 'added')))).result), {
      applied: true,
      changed: ['apps[added] removed'],
    });
    assert.equal(await status(`${urls.unknown}/`), 404);
    assert.equal((await stack.gateway.reload(headers)).applied, true);
    assert.deepEqual(outcome(await stack.gateway.reload(headers)), { applied: true, changed: [] });
    assert.equal((await viaEndpoint(base)).result.applied, true);
    assert.equal((await seenByBackend(alice, `${urls.wiki}/who`))['x-remote-user'], undefined);
    await sleep(300);
  }

  it('the endpoint takes only a POST, and refuses a request a browser marks as cross-site', async () => {
    pending = stack.config;
    const get = await request(adminUrl, { method: 'GET' });
    await get.body.text();
    assert.equal(get.statusCode, 405);
    assert.equal(get.headers['allow'], 'POST');
    const crossSite = await request(adminUrl, { method: 'POST', headers: { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' } });
    await crossSite.body.text();
    assert.equal(crossSite.statusCode, 403);
    const otherOrigin = await request(adminUrl, { method: 'POST', headers: { origin: 'https://evil.example' } });
    await otherOrigin.body.text();
    assert.equal(otherOrigin.statusCode, 403);
    const before = stack.audit.events.filter((event) => event.type === 'config.reloaded').length;
    const sameOrigin = await request(adminUrl, { method: 'POST', headers: { origin: new URL(adminUrl).origin, 'sec-fetch-site': 'same-origin' } });
    assert.equal(sameOrigin.statusCode, 200);
    await sameOrigin.body.text();
    // Only the one that got through was a reload.
    assert.equal(stack.audit.events.filter((event) => event.type === 'config.reloaded').length, before + 1);
  });
});

describe('live reload with a real connector', function () {
  this.timeout(120_000);
  let setup: ConnectorStack;
  let stack: Stack;
  let agent: Agent;

  before(async () => {
    setup = await startConnectorStack({ tmpPrefix: 'gatehouse-reload-connector-' });
    ({ stack, agent } = setup);
  });
  after(async () => {
    await setup?.stop();
  });

  it('connectors are told to pull: the version rises and a new app is reached through the tunnel', async () => {
    const connector = await setup.startConnector('connector');
    const connectors = stack.gateway.connectors!;
    const version = connectors.version;
    const get = async (url: string): Promise<number> => {
      const response = await request(url, { dispatcher: agent });
      await response.body.text();
      return response.statusCode;
    };
    assert.equal(await get(`${stack.urls.unknown}/`), 404);

    const added = withApps(stack.config, (apps) => [
      ...apps,
      { id: 'added', externalUrl: stack.urls.unknown, internalUrl: stack.backend.url, preauth: 'passthrough' },
    ]);
    assert.equal((await stack.gateway.reload(added)).applied, true);
    assert.equal(connectors.version, version + 1);
    await connector.process.waitFor(new RegExp(`"version":${version + 1}`), 15_000);
    // The connector dials only the apps of the configuration it applied: an answer means it pulled the new one.
    let answered = 0;
    for (let attempt = 0; attempt < 50 && answered !== 200; attempt += 1) {
      answered = await get(`${stack.urls.unknown}/`);
      if (answered !== 200) await sleep(100);
    }
    assert.equal(answered, 200);

    // A change the documents do not carry (identity headers) leaves the version alone.
    const headers = withApps(added, (apps) => apps.map((app) => (app.id === 'wiki' ? { ...app, identityHeaders: { 'X-Remote-User': 'email' } } : app)));
    const result = await stack.gateway.reload(headers);
    assert.equal(result.applied, true, JSON.stringify(result));
    assert.equal(connectors.version, version + 1);
  });
});
