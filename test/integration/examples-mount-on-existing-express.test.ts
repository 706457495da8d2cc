import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { DEFAULT_DEV_USERS, startIdentityProvider, type DevIdentityProvider } from '../../dev/lib/identity-provider/index.ts';
import { createDevCa } from '../../dev/lib/dev-ca.ts';
import { createApp, type ExistingApp } from '../../examples/mount-on-existing-express/app.ts';
import { memorySink } from '../../src/audit/audit-log.ts';
import { MAX_REQUEST_HEADER_BYTES } from '../../src/limits.ts';
import { startEchoBackend, type EchoBackend } from '../support/backend.ts';
import { BrowserClient } from '../../dev/lib/browser-client.ts';

interface Echo {
  method: string;
  path: string;
  body: string;
  headers: Record<string, string | undefined>;
}

describe('examples/mount-on-existing-express', function () {
  this.timeout(60_000);
  let idp: DevIdentityProvider;
  let backend: EchoBackend;
  let server: Server;
  let example: ExistingApp;
  let detach: () => void;
  let browser: BrowserClient;
  let published: string;
  let own: string;
  let caPem: string;

  before(async () => {
    const ca = createDevCa({ commonName: 'mount example CA' });
    caPem = ca.certPem;
    const certificate = ca.issueServerCertificate(['wiki.gatehouse.test', 'app.gatehouse.test']);
    server = createServer({ cert: certificate.certPem, key: certificate.keyPem, maxHeaderSize: MAX_REQUEST_HEADER_BYTES });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    published = `https://wiki.gatehouse.test:${port}`;
    own = `https://app.gatehouse.test:${port}`;
    backend = await startEchoBackend();
    idp = await startIdentityProvider({
      ca,
      clients: [{ client_id: 'existing-app', client_secret: 'existing-app-secret', redirect_uris: [`${published}/.gatehouse/callback`] }],
    });
    example = createApp({
      identityProvider: { issuer: idp.issuer, clientId: 'existing-app', clientSecret: 'existing-app-secret', ca: idp.caPem },
      sessionSecrets: [{ id: 1, secret: 'mount-example-session-secret-0123456789abcdef' }],
      published: [{ id: 'wiki', externalUrl: published, internalUrl: backend.url }],
      gatewayOptions: { audit: memorySink() },
    });
    server.on('request', example.app);
    detach = example.gateway.attach(server);
    await example.gateway.ready();
    browser = new BrowserClient({ ca: ca.certPem });
  });
  after(async () => {
    await browser.close();
    detach();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await example.gateway.close();
    await idp.close();
    await backend.close();
  });

  it('signs a user in through the published host and forwards to the internal app', async () => {
    const alice = DEFAULT_DEV_USERS.find((user) => user.login === 'alice')!;
    const { response, chain } = await browser.signIn(`${published}/wiki/start`, alice.login, alice.password);
    assert.equal(response.status, 200, chain.join('\n'));
    assert.equal(chain.at(-1), `${published}/wiki/start`);
    const echo = (await response.json()) as Echo;
    assert.equal(echo.path, '/wiki/start');
    assert.ok(echo.headers['x-gatehouse-assertion']);
  });

  it("answers the app's own routes on its own host, without authentication", async () => {
    const stranger = new BrowserClient({ ca: caPem });
    try {
      const ok = await stranger.request(`${own}/health`);
      assert.equal(ok.status, 200);
      assert.equal(await ok.text(), 'ok');
      const api = await stranger.request(`${own}/api/own`, { headers: { accept: 'application/json' } });
      assert.deepEqual(await api.json(), { service: 'existing-app', message: 'served by the existing app, not by Gatehouse' });
      const posted = await stranger.request(`${own}/api/own/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ n: 1 }),
      });
      assert.deepEqual(await posted.json(), { received: { n: 1 } });
    } finally {
      await stranger.close();
    }
  });

  it("keeps the published host Gatehouse's: its own routes are not there, and bodies reach the backend untouched", async () => {
    const stranger = new BrowserClient({ ca: caPem });
    try {
      const gated = await stranger.request(`${published}/health`, { headers: { accept: 'application/json' } });
      assert.equal(gated.status, 401);
      assert.equal(((await gated.json()) as { error: { code: string } }).error.code, 'ERR_SESSION_REQUIRED');
      assert.equal((await stranger.request(`${published}/robots.txt`)).status, 200);
    } finally {
      await stranger.close();
    }
    // The signed-in browser of the first test: a JSON body passes the app's body parser by.
    const body = JSON.stringify({ page: 'Home', text: 'x'.repeat(200_000) });
    const response = await browser.request(`${published}/api/pages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body,
      initiator: published,
    });
    assert.equal(response.status, 200);
    const echo = (await response.json()) as Echo;
    assert.equal(echo.method, 'POST');
    assert.equal(echo.body, body, "larger than the app's own 100 kB JSON limit, and unparsed");
  });
});
