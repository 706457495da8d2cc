import assert from 'node:assert/strict';
import { DEFAULT_DEV_USERS } from '../../dev/lib/identity-provider/index.ts';
import { MAX_SET_COOKIE_BYTES } from '../../src/limits.ts';
import { startStack, type Stack } from '../support/stack.ts';

describe('session cookie size', function () {
  this.timeout(30_000);
  let stack: Stack;
  const manyGroups = Array.from({ length: 300 }, (_, index) => `department-${index}-with-a-long-group-name`);

  before(async () => {
    stack = await startStack({
      users: [
        ...DEFAULT_DEV_USERS,
        { login: 'carol', password: 'carol-password', sub: 'user-carol', name: 'Carol Groups', email: 'carol@gatehouse.test', groups: manyGroups, mfa: false },
        { login: 'dave', password: 'dave-password', sub: 'user-dave', name: 'D'.repeat(5000), email: 'dave@gatehouse.test', groups: [], mfa: false },
      ],
    });
  });
  after(async () => {
    await stack.close();
  });

  it('keeps a long group list server side and the cookie under the browser limit', async () => {
    const browser = stack.browser();
    const { response } = await browser.signIn(`${stack.urls.wiki}/groups`, 'carol', 'carol-password');
    assert.equal(response.status, 200);
    const cookie = (await browser.jar.getCookies(`${stack.urls.wiki}/`)).find((c) => c.key === '__Host-gatehouse');
    assert.ok(cookie);
    assert.ok(cookie.toString().length <= MAX_SET_COOKIE_BYTES, `${cookie.toString().length} bytes`);
    const again = await browser.request(`${stack.urls.wiki}/again`, { headers: { accept: 'application/json' } });
    assert.equal(again.status, 200);
    // The identity assertion leaves an oversized group list out rather than send a header backends refuse.
    const { headers } = (await again.json()) as { headers: Record<string, string> };
    const assertion = headers['x-gatehouse-assertion'] ?? '';
    assert.ok(assertion.length < 4096, `${assertion.length} bytes`);
    const claims = JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims['groups'], undefined);
    assert.equal(claims['groups_omitted'], true);
  });

  it('refuses to issue a session a browser would drop or the gate could not read, instead of looping', async () => {
    const browser = stack.browser();
    const { response, chain } = await browser.signIn(`${stack.urls.wiki}/big`, 'dave', 'dave-password');
    assert.equal(response.status, 500);
    assert.match(await response.text(), /Code: ERR_COOKIE_TOO_LARGE/);
    assert.ok(chain.at(-1)?.includes('/.gatehouse/callback'));
    assert.equal(stack.audit.ofType('signin.failed').at(-1)?.reason, 'claims_out_of_bounds');
  });
});

describe('backend timeouts', function () {
  this.timeout(30_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({
      configure: (config) => ({
        ...config,
        apps: (config.apps ?? []).map((app) => ({ ...app, timeouts: { backend: '1s' } })),
      }),
    });
  });
  after(async () => {
    await stack.close();
  });

  it('answers 504 when the app does not answer within its timeout', async () => {
    const started = Date.now();
    const response = await stack.browser().request(`${stack.urls.open}/hang`, { headers: { accept: 'application/json' } });
    assert.equal(response.status, 504);
    const body = (await response.json()) as { error: { code: string; step: string } };
    assert.equal(body.error.code, 'ERR_BACKEND_TIMEOUT');
    assert.equal(body.error.step, 'forwarding');
    assert.ok(Date.now() - started < 5000);
    assert.equal(stack.audit.ofType('forward.failed').at(-1)?.reason, 'backend_GATEHOUSE_BACKEND_TIMEOUT');
  });
});
