import assert from 'node:assert/strict';
import { DEFAULT_DEV_USERS } from '../../dev/lib/identity-provider/index.ts';
import { MemorySessionStore } from '../../src/session/session-store.ts';
import type { BrowserClient } from '../../dev/lib/browser-client.ts';
import { startStack, type Stack } from '../support/stack.ts';

/**
 * Other sign-ins fill the server-side session store (here bounded at three
 * entries instead of 50,000, so that real sign-ins can fill it). A user
 * whose group list lives there must not be signed out to make room: the
 * newcomer is refused, visibly, with a code and an audit event.
 */
describe("attack: pushing a user's server-side session data out with other sign-ins", function () {
  this.timeout(60_000);
  let stack: Stack;
  let carol: BrowserClient;
  const manyGroups = Array.from({ length: 300 }, (_, index) => `department-${index}-with-a-long-group-name`);

  before(async () => {
    stack = await startStack({
      users: [
        ...DEFAULT_DEV_USERS,
        { login: 'carol', password: 'carol-password', sub: 'user-carol', name: 'Carol Groups', email: 'carol@gatehouse.test', groups: manyGroups, mfa: false },
        { login: 'carl', password: 'carl-password', sub: 'user-carl', name: 'Carl Groups', email: 'carl@gatehouse.test', groups: manyGroups, mfa: false },
      ],
      gatewayOptions: { sessionStore: new MemorySessionStore({ maxSideEntries: 3 }) },
    });
    carol = stack.browser();
    assert.equal((await carol.signIn(`${stack.urls.wiki}/start`, 'carol', 'carol-password')).response.status, 200);
    for (const login of ['bob', 'dana']) {
      assert.equal((await stack.browser().signIn(`${stack.urls.wiki}/`, login, `${login}-password`)).response.status, 200);
    }
  });
  after(async () => {
    await stack.close();
  });
  beforeEach(() => {
    stack.audit.clear();
  });

  it('refuses the new sign-in that needs server-side data with 503 ERR_SESSION_STORE_FULL, and audits it', async () => {
    const { response, chain } = await stack.browser().signIn(`${stack.urls.wiki}/`, 'carl', 'carl-password');
    assert.equal(response.status, 503);
    assert.match(await response.text(), /Code: ERR_SESSION_STORE_FULL/);
    assert.ok(chain.at(-1)?.includes('/.gatehouse/callback'));
    const failed = stack.audit.ofType('signin.failed').at(-1);
    assert.equal(failed?.code, 'ERR_SESSION_STORE_FULL');
    assert.equal(failed?.reason, 'session_store_full');
    assert.equal(failed?.details?.['sub'], 'user-carl');
    assert.equal(stack.audit.ofType('signin.succeeded').length, 0);
  });

  it('keeps the earlier user signed in, with her group list', async () => {
    const response = await carol.request(`${stack.urls.wiki}/later`, { headers: { accept: 'application/json' } });
    assert.equal(response.status, 200);
    assert.equal(stack.audit.ofType('session.rejected').length, 0);
  });

  it('still signs in a user who needs nothing server side, and says their ID token was not kept', async () => {
    const { response } = await stack.browser().signIn(`${stack.urls.wiki}/`, 'bob', 'bob-password');
    assert.equal(response.status, 200);
    assert.equal(stack.audit.ofType('signin.succeeded').at(-1)?.details?.['idTokenKept'], false);
    assert.equal((await carol.request(`${stack.urls.wiki}/again`, { headers: { accept: 'application/json' } })).status, 200);
  });
});
