import assert from 'node:assert/strict';
import type { BrowserClient } from '../../dev/lib/browser-client.ts';
import { startStack, type Stack } from '../support/stack.ts';

/**
 * The sign-in loop cookie can be planted by a sibling subdomain
 * (`Domain=gatehouse.test`). Whatever it says, a cookie this gateway did not
 * write for this app must never block a sign-in; it is ignored and audited.
 */
describe('attack: a planted sign-in loop cookie', function () {
  this.timeout(30_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
  });
  beforeEach(() => {
    stack.audit.clear();
  });

  /** What a page on evil.gatehouse.test can do: set a cookie for the parent domain. */
  async function plant(browser: BrowserClient, value: string): Promise<void> {
    await browser.jar.setCookie(`__Secure-gh-loop=${value}; Domain=gatehouse.test; Path=/.gatehouse/; Secure`, 'https://evil.gatehouse.test/', { http: true });
    const sent = await browser.jar.getCookieString(`${stack.urls.wiki}/.gatehouse/signin`);
    assert.match(sent, /__Secure-gh-loop=/, 'the browser sends the planted cookie to the app');
  }

  async function expectSignInGoesAhead(browser: BrowserClient, reason: string): Promise<void> {
    const response = await browser.request(`${stack.urls.wiki}/.gatehouse/signin?rd=%2Fdocs`, { navigate: true });
    assert.equal(response.status, 302, 'sent to the identity provider, not shown the loop page');
    assert.ok(response.headers.get('location')?.startsWith(stack.idp.issuer));
    assert.equal(stack.audit.ofType('signin.loop_detected').length, 0);
    const refused = stack.audit.ofType('session.rejected').filter((event) => event.reason?.startsWith('loop_cookie_'));
    assert.equal(refused.length, 1, 'audited once');
    assert.equal(refused[0]?.reason, reason);
    assert.equal(refused[0]?.app, 'wiki');
    // The whole sign-in completes.
    const { response: done, chain } = await browser.signIn(`${stack.urls.wiki}/docs`, 'bob', 'bob-password');
    assert.equal(done.status, 200);
    assert.equal(chain.at(-1), `${stack.urls.wiki}/docs`);
  }

  it('ignores a loop cookie dated in the future', async () => {
    const browser = stack.browser();
    await plant(browser, `2.${Math.floor(stack.clock() / 1000) + 3600}`);
    await expectSignInGoesAhead(browser, 'loop_cookie_malformed');
  });

  it('ignores a loop cookie with a huge count', async () => {
    const browser = stack.browser();
    await plant(browser, `999.${Math.floor(stack.clock() / 1000)}`);
    await expectSignInGoesAhead(browser, 'loop_cookie_malformed');
  });

  it('ignores a loop cookie with a forged MAC', async () => {
    const browser = stack.browser();
    await plant(browser, `5.${Math.floor(stack.clock() / 1000)}.1.${'A'.repeat(43)}`);
    await expectSignInGoesAhead(browser, 'loop_cookie_tampered');
  });
});
