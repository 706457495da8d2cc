import assert from 'node:assert/strict';
import type { BrowserClient } from '../../dev/lib/browser-client.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

const isCallback = (url: URL): boolean => url.pathname === '/.gatehouse/callback';

describe('attack: the sign-in callback', function () {
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
    stack.backend.requests.length = 0;
  });

  /** Signs in as bob up to (not into) the callback, and returns its URL. */
  async function callbackUrl(browser: BrowserClient, path = '/x'): Promise<URL> {
    const { chain } = await signIn(stack, browser, 'bob', path, { stopAt: isCallback });
    const url = new URL(chain.at(-1)!);
    assert.ok(isCallback(url), `stopped at the callback: ${url.href}`);
    return url;
  }

  async function expectStateError(browser: BrowserClient, url: string, reason: string): Promise<void> {
    const response = await browser.request(url, { navigate: true, initiator: stack.idp.issuer });
    assert.equal(response.status, 400);
    const page = await response.text();
    assert.match(page, /Code: ERR_SIGNIN_STATE/);
    assert.match(page, /Sign in again/);
    assert.equal(stack.audit.ofType('signin.failed').at(-1)?.reason, reason);
    assert.equal(stack.audit.ofType('signin.succeeded').length, 0);
  }

  it('refuses a callback without state', async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    url.searchParams.delete('state');
    await expectStateError(browser, url.href, 'missing_state');
  });

  it('refuses two state parameters', async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    url.searchParams.append('state', 'second-state-value-0123456789');
    await expectStateError(browser, url.href, 'duplicate_state');
  });

  it('refuses a state this browser never started', async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    url.searchParams.set('state', 'forged-state-value-0123456789abcdef');
    await expectStateError(browser, url.href, 'transaction_missing');
  });

  it('refuses a callback delivered to another browser (login CSRF)', async () => {
    const url = await callbackUrl(stack.browser());
    await expectStateError(stack.browser(), url.href, 'transaction_missing');
  });

  it("refuses the state of another tab with this tab's code", async () => {
    const browser = stack.browser();
    const first = await callbackUrl(browser, '/one');
    const second = await callbackUrl(browser, '/two');
    const mixed = new URL(first.href);
    mixed.searchParams.set('state', second.searchParams.get('state')!);
    const response = await browser.request(mixed.href, { navigate: true, initiator: stack.idp.issuer });
    // Tab two's verifier does not match tab one's code: the provider refuses the exchange.
    assert.equal(response.status, 502);
    assert.match(await response.text(), /Code: ERR_IDP_ERROR/);
    assert.equal(stack.audit.ofType('signin.failed').at(-1)?.reason, 'token_endpoint:invalid_grant');
  });

  it('refuses a replayed callback, even with a copy of the transaction cookie', async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    const txCookies = await browser.jar.getCookieString(url.href);
    const done = await browser.navigate(url.href, { initiator: stack.idp.issuer });
    assert.equal(done.response.status, 200);
    const attacker = stack.browser();
    const replay = await attacker.request(url.href, { navigate: true, initiator: stack.idp.issuer, headers: { cookie: txCookies } });
    assert.equal(replay.status, 400);
    assert.match(await replay.text(), /Code: ERR_SIGNIN_STATE/);
    assert.equal(stack.audit.ofType('signin.failed').at(-1)?.reason, 'state_replayed');
    assert.equal(stack.audit.ofType('signin.succeeded').length, 1);
  });

  it('sends a signed-in user who replays a used callback (back button) to the app', async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    await browser.navigate(url.href, { initiator: stack.idp.issuer });
    const back = await browser.request(url.href, { navigate: true, initiator: stack.idp.issuer });
    assert.equal(back.status, 302);
    assert.equal(back.headers.get('location'), `${stack.urls.wiki}/`);
  });

  it('refuses an authorization code replayed through a fresh attempt', async () => {
    const browser = stack.browser();
    const used = await callbackUrl(browser, '/a');
    await browser.navigate(used.href, { initiator: stack.idp.issuer });
    const fresh = await callbackUrl(stack.browser(), '/b');
    // A new attempt in another browser, fed the code that was already redeemed.
    const victim = stack.browser();
    const attempt = await callbackUrl(victim, '/c');
    attempt.searchParams.set('code', used.searchParams.get('code')!);
    const response = await victim.request(attempt.href, { navigate: true, initiator: stack.idp.issuer });
    assert.equal(response.status, 502);
    assert.equal(stack.audit.ofType('signin.failed').at(-1)?.reason, 'token_endpoint:invalid_grant');
    assert.ok(fresh);
  });

  it("shows the provider's refusal (access_denied) as a denied sign-in", async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    url.searchParams.delete('code');
    url.searchParams.set('error', 'access_denied');
    url.searchParams.set('error_description', '<script>alert(1)</script>');
    const response = await browser.request(url.href, { navigate: true, initiator: stack.idp.issuer });
    assert.equal(response.status, 403);
    const page = await response.text();
    assert.match(page, /Code: ERR_SIGNIN_DENIED/);
    assert.doesNotMatch(page, /<script>/, 'nothing from the request is echoed');
    assert.equal(stack.audit.ofType('signin.failed').at(-1)?.reason, 'authorization:access_denied');
  });

  it('caps live sign-in attempts so stale transaction cookies never pile up', async () => {
    const browser = stack.browser();
    for (let index = 0; index < 40; index += 1) {
      await browser.navigate(`${stack.urls.wiki}/page-${index}`, { stopAt: (url) => url.origin === stack.idp.issuer });
    }
    const live = (await browser.jar.getCookies(`${stack.urls.wiki}/.gatehouse/callback`)).filter((c) => c.key.startsWith('__Secure-gh-tx-'));
    assert.ok(live.length <= 6, `${live.length} live attempts`);
    // The newest attempt still completes.
    const { response, chain } = await browser.navigate(`${stack.urls.wiki}/newest`, {});
    const bob = stack.idp.users.find((user) => user.login === 'bob')!;
    const result = chain.at(-1)!.startsWith(stack.urls.wiki)
      ? { chain }
      : await browser.submitForm(response, response.url, { login: bob.login, password: bob.password });
    assert.equal(result.chain.at(-1), `${stack.urls.wiki}/newest`);
  });

  it('stops a redirect loop when the browser drops the session cookie', async () => {
    const browser = stack.browser();
    const bob = stack.idp.users.find((user) => user.login === 'bob')!;
    let last = '';
    for (let attempt = 0; attempt < 4; attempt += 1) {
      const { response, chain } = await browser.navigate(`${stack.urls.wiki}/loop`, {});
      const done = response.url.startsWith(stack.idp.issuer)
        ? await browser.submitForm(response, response.url, { login: bob.login, password: bob.password })
        : { response, chain };
      last = await done.response.text();
      if (/ERR_SIGNIN_LOOP/.test(last)) break;
      // The browser "forgets" the session cookie, as one does when it drops an oversized or blocked cookie.
      await browser.jar.setCookie('__Host-gatehouse=; Max-Age=0; Path=/; Secure', `${stack.urls.wiki}/`);
    }
    assert.match(last, /Code: ERR_SIGNIN_LOOP/);
    assert.equal(stack.audit.ofType('signin.loop_detected').length, 1);
  });
});
