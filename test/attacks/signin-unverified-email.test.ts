import assert from 'node:assert/strict';
import { DEFAULT_DEV_USERS, type DevUser } from '../../dev/lib/identity-provider/index.ts';
import type { BrowserClient } from '../../dev/lib/browser-client.ts';
import { startStack, type Stack } from '../support/stack.ts';

/**
 * A policy exempts a break-glass account by its email. Anyone who can set
 * their own email at the identity provider (an unverified address) must not
 * borrow that exemption: not at sign-in, and not later through the session.
 */
const EXEMPT = 'breakglass@gatehouse.test';

const users: DevUser[] = [
  ...DEFAULT_DEV_USERS,
  { login: 'breakglass', password: 'breakglass-password', sub: 'user-breakglass', name: 'Break Glass', email: EXEMPT, groups: ['staff'], mfa: false },
  // Eve typed the break-glass address into her own profile; the provider says it is unverified.
  { login: 'eve', password: 'eve-password', sub: 'user-eve', name: 'Eve', email: EXEMPT, emailVerified: false, groups: ['staff'], mfa: false },
  // Frank's provider says nothing about verification: that vouches for nothing either.
  { login: 'frank', password: 'frank-password', sub: 'user-frank', name: 'Frank', email: EXEMPT, emailVerified: 'omitted', groups: ['staff'], mfa: false },
];

interface ErrorBody {
  error: { code: string };
}

describe("attack: borrowing an excluded account's exemption with an unverified email", function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({
      users,
      configure: (config) => ({
        ...config,
        apps: (config.apps ?? []).map((app) =>
          app.id === 'wiki'
            ? {
                ...app,
                policies: [
                  {
                    name: 'admin area closed but for break-glass',
                    conditions: { users: { include: ['*'], exclude: [EXEMPT] }, paths: ['/admin/'] },
                    grant: { block: true },
                  },
                ],
              }
            : app,
        ),
      }),
    });
  });
  after(async () => {
    await stack.close();
  });
  beforeEach(() => {
    stack.audit.clear();
  });

  const signInAs = (browser: BrowserClient, login: string, path: string) => browser.signIn(`${stack.urls.wiki}${path}`, login, `${login}-password`);

  const api = async (browser: BrowserClient, path: string): Promise<{ status: number; body?: ErrorBody }> => {
    const response = await browser.request(`${stack.urls.wiki}${path}`, { headers: { accept: 'application/json' } });
    return response.status === 200 ? { status: 200 } : { status: response.status, body: (await response.json()) as ErrorBody };
  };

  it('lets the verified owner of the exempt email in (control)', async () => {
    const browser = stack.browser();
    const { response } = await signInAs(browser, 'breakglass', '/admin/panel');
    assert.equal(response.status, 200);
    assert.equal((await api(browser, '/admin/other')).status, 200);
  });

  it('refuses an unverified copy of the exempt email at sign-in, and audits it', async () => {
    const { response } = await signInAs(stack.browser(), 'eve', '/admin/panel');
    assert.equal(response.status, 403);
    assert.match(await response.text(), /Code: ERR_POLICY_DENIED/);
    const denied = stack.audit.ofType('access.denied').at(-1);
    assert.equal(denied?.code, 'ERR_POLICY_DENIED');
    assert.equal(denied?.user?.sub, 'user-eve');
    assert.match(denied?.reason ?? '', /admin area closed but for break-glass:grant\.block/);
  });

  it('refuses an unverified copy of the exempt email on a request through the session, and audits it', async () => {
    const browser = stack.browser();
    const { response } = await signInAs(browser, 'eve', '/docs');
    assert.equal(response.status, 200, 'the policy does not apply outside /admin/');
    const result = await api(browser, '/admin/panel');
    assert.equal(result.status, 403);
    assert.equal(result.body?.error.code, 'ERR_POLICY_DENIED');
    const denied = stack.audit.ofType('access.denied').at(-1);
    assert.equal(denied?.user?.sub, 'user-eve');
    assert.equal(denied?.code, 'ERR_POLICY_DENIED');
  });

  it('refuses the exempt email when the provider does not say it is verified', async () => {
    const browser = stack.browser();
    assert.equal((await signInAs(browser, 'frank', '/docs')).response.status, 200);
    const result = await api(browser, '/admin/panel');
    assert.equal(result.status, 403);
    assert.equal(result.body?.error.code, 'ERR_POLICY_DENIED');
    assert.equal(stack.audit.ofType('access.denied').at(-1)?.user?.sub, 'user-frank');
  });
});
