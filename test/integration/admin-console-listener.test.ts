import assert from 'node:assert/strict';
import { createAdminListener, type AdminListener } from '../../src/admin/admin-listener.ts';
import type { GatewayConfigInput } from '../../src/config/schema.ts';
import { freePort } from '../support/free-port.ts';
import { startStack, type Stack } from '../support/stack.ts';

/**
 * The admin console of a gateway mounted by an app (createAdminListener(gateway)), on a plain HTTP admin
 * listener, with the admin role read from a dotted claim path (Keycloak's realm_access.roles): the same
 * check as for admin tokens of connector registration.
 */
describe('admin console on an app-opened, plain HTTP admin listener', function () {
  this.timeout(60_000);
  let stack: Stack;
  let listener: AdminListener;
  let origin: string;

  before(async () => {
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    stack = await startStack({
      connectors: true,
      redirectUris: [`${origin}/.gatehouse/admin/callback`],
      idpClaims: { extraClaims: { names: ['realm_access'], values: (user) => ({ realm_access: { roles: user.roles ?? [] } }) } },
      configure: (config: GatewayConfigInput): GatewayConfigInput => ({
        ...config,
        connectors: { ...config.connectors!, admin: { ...config.connectors!.admin, claim: 'realm_access.roles' } },
      }),
    });
    listener = createAdminListener(stack.gateway, { host: '127.0.0.1', port });
    await listener.listen();
  });
  after(async () => {
    await listener?.close();
    await stack?.close();
  });

  it('signs an admin in: a plain cookie (no __Host- prefix, not Secure), the overview', async () => {
    const browser = stack.browser();
    const { response } = await browser.signIn(`${origin}/.gatehouse/admin/`, 'alice', 'alice-password');
    assert.equal(response.status, 200);
    assert.equal(response.url, `${origin}/.gatehouse/admin/`);
    const page = await response.text();
    assert.match(page, /<h1>\s*Overview\s*<\/h1>/);
    // Each group's tunnels per gateway instance, this one's from its own record.
    assert.match(page, /<li data-instance="gw-[0-9a-f]+" data-tunnels="\d+"/);
    assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    const cookies = await browser.jar.getCookies(`${origin}/`);
    const console = cookies.find((cookie) => cookie.key === 'gh-admin');
    assert.ok(console, cookies.map((cookie) => cookie.key).join(', '));
    assert.equal(console.secure, false);
    assert.equal(console.httpOnly, true);
  });

  it('gives a user without the role in realm_access.roles the 403 page', async () => {
    const browser = stack.browser();
    const { response } = await browser.signIn(`${origin}/.gatehouse/admin/`, 'bob', 'bob-password');
    assert.equal(response.status, 403);
    assert.match(await response.text(), /Not an administrator/);
  });

  it('keeps answering health and metrics without sign-in, and 404 beside the console', async () => {
    assert.equal((await fetch(`${origin}/.gatehouse/healthz`)).status, 200);
    assert.equal((await fetch(`${origin}/metrics`)).status, 200);
    assert.equal((await fetch(`${origin}/.gatehouse/adminx`)).status, 404);
    const anonymous = await fetch(`${origin}/.gatehouse/admin/connectors`, { redirect: 'manual' });
    assert.equal(anonymous.status, 303);
    assert.equal(anonymous.headers.get('location'), '/.gatehouse/admin/signin');
  });

  it('is left out with { console: false }', async () => {
    const plain = createAdminListener(stack.gateway, { host: '127.0.0.1', port: 0, console: false });
    const { port } = await plain.listen();
    try {
      assert.equal((await fetch(`http://127.0.0.1:${port}/.gatehouse/admin/`)).status, 404);
    } finally {
      await plain.close();
    }
  });
});
