import assert from 'node:assert/strict';
import type { BrowserClient } from '../../dev/lib/browser-client.ts';
import { startStack, type Stack } from '../support/stack.ts';

const isCallback = (url: URL): boolean => url.pathname === '/.gatehouse/callback';

/**
 * The per-address failed sign-in signal counts only real authentication
 * failures. Anonymous callbacks (no state, a state nobody started) cost an
 * attacker nothing; if they counted, anyone could block or step up everyone
 * behind the same NAT address.
 */
describe("attack: raising everyone's sign-in risk with anonymous callbacks", function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({
      configure: (config) => ({
        ...config,
        // The test client is the trusted proxy, so each test can speak for its own address.
        trustedProxies: ['127.0.0.1/32'],
        risk: { failedSignIns: { perAddress: { medium: 3, high: 6 } } },
        apps: (config.apps ?? []).map((app) =>
          app.id === 'wiki'
            ? {
                ...app,
                policies: [
                  { name: 'risky sign-ins', conditions: { signInRisk: ['medium', 'high'] }, grant: { block: true } },
                  { name: 'mfa when a little risky', conditions: { signInRisk: ['low'] }, grant: { mfa: true } },
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

  /** Every address here is in one /24, so bob never looks like he comes from a new network. */
  const from = (ip: string): BrowserClient => stack.browser({ extraHeaders: { 'x-forwarded-for': ip } });

  async function anonymousCallback(browser: BrowserClient, query: string, reason: string): Promise<void> {
    const response = await browser.request(`${stack.urls.wiki}/.gatehouse/callback${query}`, { navigate: true, initiator: stack.idp.issuer });
    assert.equal(response.status, 400);
    assert.match(await response.text(), /Code: ERR_SIGNIN_STATE/);
    const failed = stack.audit.ofType('signin.failed').at(-1);
    assert.equal(failed?.code, 'ERR_SIGNIN_STATE');
    assert.equal(failed?.reason, reason);
  }

  async function expectCleanSignIn(ip: string): Promise<void> {
    const { response, chain } = await from(ip).signIn(`${stack.urls.wiki}/docs`, 'bob', 'bob-password');
    assert.equal(response.status, 200, 'neither blocked nor sent to a step-up');
    assert.equal(chain.filter((url) => url.includes('stepup=')).length, 0);
    const decision = stack.audit.ofType('policy.decision').at(-1);
    assert.equal(decision?.details?.['signInRisk'], 'none');
    assert.equal(decision?.details?.['effect'], 'allow');
  }

  async function expectRiskyBlock(ip: string): Promise<void> {
    const { response } = await from(ip).signIn(`${stack.urls.wiki}/docs`, 'bob', 'bob-password');
    assert.equal(response.status, 403);
    const page = await response.text();
    assert.match(page, /Code: ERR_POLICY_DENIED/);
    assert.match(page, /judged risky/);
    const decision = stack.audit.ofType('policy.decision').at(-1);
    assert.ok(['medium', 'high'].includes(String(decision?.details?.['signInRisk'])), String(decision?.details?.['signInRisk']));
    assert.equal(stack.audit.ofType('access.denied').at(-1)?.code, 'ERR_POLICY_DENIED');
  }

  it('does not count 40 callbacks without a state against the address', async () => {
    const ip = '198.51.100.21';
    const attacker = from(ip);
    for (let index = 0; index < 40; index += 1) await anonymousCallback(attacker, `?code=x${index}`, 'missing_state');
    await expectCleanSignIn(ip);
  });

  it('does not count 40 callbacks with a state nobody started against the address', async () => {
    const ip = '198.51.100.22';
    const attacker = from(ip);
    for (let index = 0; index < 40; index += 1) {
      await anonymousCallback(attacker, `?code=x&state=forged-state-${index}-0123456789abcdef`, 'transaction_missing');
    }
    await anonymousCallback(attacker, '?state=a-0123456789abcdef&state=b-0123456789abcdef', 'duplicate_state');
    await expectCleanSignIn(ip);
  });

  it('does not count replays of a callback that already completed', async () => {
    const ip = '198.51.100.23';
    const browser = from(ip);
    const { chain } = await browser.signIn(`${stack.urls.wiki}/x`, 'bob', 'bob-password', { stopAt: isCallback });
    const callback = chain.at(-1)!;
    const cookies = await browser.jar.getCookieString(callback);
    assert.equal((await browser.navigate(callback, { initiator: stack.idp.issuer })).response.status, 200);
    for (let index = 0; index < 10; index += 1) {
      const replay = await from(ip).request(callback, { navigate: true, initiator: stack.idp.issuer, headers: { cookie: cookies } });
      assert.equal(replay.status, 400);
      assert.equal(stack.audit.ofType('signin.failed').at(-1)?.reason, 'state_replayed');
    }
    await expectCleanSignIn(ip);
  });

  it('still counts sign-ins the identity provider refused (control)', async () => {
    const ip = '198.51.100.24';
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const browser = from(ip);
      const { response } = await browser.navigate(`${stack.urls.wiki}/`);
      // The user cancels at the provider: the callback carries access_denied for an attempt this browser started.
      const cancelled = await browser.navigate(response.url.replace(/\/interaction\/([^/?#]+).*$/, '/interaction/$1/abort'));
      assert.equal(cancelled.response.status, 403);
      assert.equal(stack.audit.ofType('signin.failed').at(-1)?.code, 'ERR_SIGNIN_DENIED');
    }
    await expectRiskyBlock(ip);
  });

  it('still counts codes the token endpoint refused (control)', async () => {
    const ip = '198.51.100.25';
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const browser = from(ip);
      const { chain } = await browser.signIn(`${stack.urls.wiki}/x`, 'bob', 'bob-password', { stopAt: isCallback });
      const callback = new URL(chain.at(-1)!);
      callback.searchParams.set('code', `not-a-code-${attempt}`);
      const response = await browser.request(callback.href, { navigate: true, initiator: stack.idp.issuer });
      assert.equal(response.status, 502);
      const failed = stack.audit.ofType('signin.failed').at(-1);
      assert.equal(failed?.code, 'ERR_IDP_ERROR');
      assert.equal(failed?.reason, 'token_endpoint:invalid_grant');
    }
    await expectRiskyBlock(ip);
  });
});
