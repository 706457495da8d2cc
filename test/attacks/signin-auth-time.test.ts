import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import type { BrowserClient } from '../../dev/lib/browser-client.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';
import { createTokenTamper, type ForgedToken, type TokenTamper } from '../support/token-tamper.ts';

/**
 * An ID token without auth_time says nothing about when the user
 * authenticated. Taking that as "now" would let every such token pass any
 * sign-in frequency policy; the gateway asks for auth_time, and without it
 * treats the authentication as too old.
 */
describe('attack: an ID token without auth_time against a sign-in frequency policy', function () {
  this.timeout(30_000);
  let stack: Stack;
  let tamper: TokenTamper;

  const withoutAuthTime = (token: ForgedToken): ForgedToken => {
    const { auth_time: _dropped, ...claims } = token.claims;
    return { ...token, claims };
  };

  before(async () => {
    stack = await startStack({
      gatewayOptions: (idp) => {
        tamper = createTokenTamper(idp.caPem, idp.signingKey);
        return { idpFetch: tamper.fetch };
      },
      configure: (config) => ({
        ...config,
        apps: (config.apps ?? []).map((app) =>
          app.id === 'wiki'
            ? { ...app, policies: [{ name: 'fresh sign-in for payroll', conditions: { paths: ['/payroll/'] }, session: { signInFrequency: '10m' } }] }
            : app,
        ),
      }),
    });
  });
  after(async () => {
    await stack.close();
    await tamper.close();
  });
  beforeEach(() => {
    stack.audit.clear();
    stack.backend.requests.length = 0;
    tamper.next = undefined;
  });

  const api = (browser: BrowserClient, path: string) => browser.request(`${stack.urls.wiki}${path}`, { headers: { accept: 'application/json' } });

  it('asks the provider for auth_time as an essential claim', async () => {
    const { chain } = await stack.browser().navigate(`${stack.urls.wiki}/docs`, { stopAt: (url) => url.origin === stack.idp.issuer });
    const authorize = new URL(chain.at(-1)!);
    assert.equal(authorize.pathname, '/auth');
    assert.deepEqual(JSON.parse(authorize.searchParams.get('claims') ?? '{}'), { id_token: { auth_time: { essential: true } } });
  });

  it('sends a sign-in whose token lacks auth_time to a fresh sign-in, and audits why', async () => {
    tamper.next = withoutAuthTime;
    const { response, chain } = await signIn(stack, stack.browser(), 'bob', '/payroll/slip');
    assert.ok(
      chain.some((url) => url.includes('stepup=sign_in_frequency')),
      'not let in on an unknown authentication time',
    );
    const decision = stack.audit.ofType('policy.decision').find((event) => event.details?.['at'] === 'sign-in');
    assert.equal(decision?.details?.['effect'], 'step-up');
    assert.match(decision?.reason ?? '', /fresh sign-in for payroll:session\.sign_in_frequency/);
    // The step-up is sent to the provider's login page again (prompt=login).
    assert.ok(response.url.startsWith(stack.idp.issuer), response.url);
  });

  it('refuses a session without auth_time on a request that needs a recent sign-in, and tells the backend nothing false', async () => {
    tamper.next = withoutAuthTime;
    const browser = stack.browser();
    const { response } = await signIn(stack, browser, 'bob', '/docs');
    assert.equal(response.status, 200, 'no frequency policy applies to /docs');
    const seen = stack.backend.requests.at(-1);
    const assertion = decodeJwt(String(seen?.headers['x-gatehouse-assertion']));
    assert.equal(assertion.auth_time, undefined, 'the backend is not told a made-up authentication time');

    const payroll = await api(browser, '/payroll/slip');
    assert.equal(payroll.status, 401);
    const body = (await payroll.json()) as { error: { code: string; signInUrl: string } };
    assert.equal(body.error.code, 'ERR_STEP_UP_REQUIRED');
    assert.match(body.error.signInUrl, /stepup=sign_in_frequency$/);
    assert.match(stack.audit.ofType('policy.decision').at(-1)?.reason ?? '', /session\.sign_in_frequency/);
  });

  it('refuses a step-up answer that still lacks auth_time, naming the missing claim', async () => {
    const browser = stack.browser();
    tamper.next = withoutAuthTime;
    const first = await signIn(stack, browser, 'bob', '/payroll/slip');
    assert.ok(first.response.url.startsWith(stack.idp.issuer));
    tamper.next = withoutAuthTime;
    const done = await browser.submitForm(first.response, first.response.url, { login: 'bob', password: 'bob-password' });
    assert.equal(done.response.status, 401);
    assert.match(await done.response.text(), /Code: ERR_ID_TOKEN_INVALID/);
    const failed = stack.audit.ofType('signin.failed').at(-1);
    assert.equal(failed?.code, 'ERR_ID_TOKEN_INVALID');
    assert.equal(failed?.reason, 'auth_time_missing');
  });

  it('lets a sign-in with a recent auth_time in (control)', async () => {
    const browser = stack.browser();
    const { response } = await signIn(stack, browser, 'bob', '/payroll/slip');
    assert.equal(response.status, 200);
    assert.equal((await api(browser, '/payroll/other')).status, 200);
  });
});
