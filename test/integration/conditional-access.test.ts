import assert from 'node:assert/strict';
import { DEV_ONE_TIME_CODE } from '../../dev/lib/identity-provider/index.ts';
import type { GatewayConfigInput } from '../../src/config/schema.ts';
import type { BrowserClient } from '../../dev/lib/browser-client.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

interface ErrorBody {
  error: { code: string; details?: string[]; signInUrl?: string };
}

function withPolicies(config: GatewayConfigInput, trustedProxies: string[]): GatewayConfigInput {
  return {
    ...config,
    trustedProxies,
    namedLocations: { corporate: ['10.0.0.0/8', 'fd00:10::/32'] },
    mfa: { amr: ['mfa'], acr: ['urn:gatehouse:mfa'], acrValues: ['urn:gatehouse:mfa'] },
    apps: (config.apps ?? []).map((app) => {
      if (app.id === 'wiki') {
        return {
          ...app,
          policies: [
            { name: 'staff only', conditions: { users: { include: ['*'] }, groups: { exclude: ['staff'] } }, grant: { block: true } },
            { name: 'mfa for admin', conditions: { paths: ['/admin/'] }, grant: { mfa: true } },
            { name: 'hr from the office', conditions: { paths: ['/hr/'], locations: { include: ['any'], exclude: ['corporate'] } }, grant: { block: true } },
            { name: 'no scripts on /ui/', conditions: { paths: ['/ui/'], clientApps: ['api'] }, grant: { block: true } },
            { name: 'mfa everywhere (trial)', state: 'report-only', conditions: { users: { include: ['*'] } }, grant: { mfa: true } },
          ],
        };
      }
      if (app.id === 'other') {
        return {
          ...app,
          policies: [
            { name: 'not bob', conditions: { claims: [{ claim: 'email', equals: 'bob@gatehouse.test' }] }, grant: { block: true } },
            {
              name: 'fresh sign-in',
              conditions: { users: { include: ['*'] } },
              grant: { claims: [{ claim: 'email_verified', equals: true }] },
              session: { signInFrequency: '10m' },
            },
          ],
        };
      }
      return app;
    }),
  };
}

describe('conditional access with the real identity provider', function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({ configure: (config) => withPolicies(config, ['127.0.0.1/32']) });
  });
  after(async () => {
    await stack.close();
  });
  beforeEach(() => {
    stack.audit.clear();
    stack.clock.reset();
  });

  const api = async (browser: BrowserClient, url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: ErrorBody | undefined }> => {
    const response = await browser.request(url, { headers: { accept: 'application/json', ...headers } });
    return { status: response.status, body: response.status === 200 ? undefined : ((await response.json()) as ErrorBody) };
  };

  it('blocks a user outside the assigned group at sign-in, says why and audits it', async () => {
    const browser = stack.browser();
    const { response, chain } = await signIn(stack, browser, 'mallory', '/');
    assert.equal(response.status, 403);
    const page = await response.text();
    assert.match(page, /Code: ERR_POLICY_DENIED/);
    assert.match(page, /not allowed to use this application/);
    assert.match(page, /contact your administrator/);
    assert.doesNotMatch(page, /staff only/, 'the policy name is for the audit log, not the user');
    assert.ok(chain.at(-1)?.includes('/.gatehouse/callback'));
    const denied = stack.audit.ofType('access.denied').at(-1);
    assert.match(denied?.reason ?? '', /staff only:grant\.block/);
    assert.equal(denied?.user?.sub, 'user-mallory');
    assert.equal((await browser.jar.getCookies(`${stack.urls.wiki}/`)).filter((c) => c.key === '__Host-gatehouse').length, 0, 'no session');
  });

  it('lets staff in (exclude beats include), and logs the report-only policy without enforcing it', async () => {
    const browser = stack.browser();
    const { response } = await signIn(stack, browser, 'bob', '/docs');
    assert.equal(response.status, 200);
    const decision = stack.audit.ofType('policy.decision').at(-1);
    assert.equal(decision?.outcome, 'success');
    assert.match(String(decision?.details?.['reportOnlyFailures']), /mfa everywhere \(trial\):grant\.mfa/);
    assert.equal((await api(browser, `${stack.urls.wiki}/more`)).status, 200);
  });

  it('steps up to MFA once, and it succeeds when the user has it', async () => {
    const browser = stack.browser();
    await signIn(stack, browser, 'dana', '/docs');
    const { response, chain } = await browser.navigate(`${stack.urls.wiki}/admin/panel`);
    assert.ok(
      chain.some((url) => url.includes('stepup=mfa')),
      'sent to the step-up sign-in',
    );
    const authorize = chain.find((url) => url.startsWith(`${stack.idp.issuer}/auth`));
    assert.ok(authorize);
    assert.equal(new URL(authorize).searchParams.get('acr_values'), 'urn:gatehouse:mfa');
    assert.equal(new URL(authorize).searchParams.get('prompt'), 'login');
    const done = await browser.submitForm(response, response.url, { login: 'dana', password: 'dana-password', otp: DEV_ONE_TIME_CODE });
    assert.equal(done.chain.at(-1), `${stack.urls.wiki}/admin/panel`);
    assert.equal(done.response.status, 200);
    assert.equal((await api(browser, `${stack.urls.wiki}/admin/other`)).status, 200, 'the session now carries MFA');
  });

  it('denies, without a loop, when the step-up still lacks MFA', async () => {
    const browser = stack.browser();
    await signIn(stack, browser, 'bob', '/docs');
    const { response, chain } = await browser.navigate(`${stack.urls.wiki}/admin/panel`);
    const done = await browser.submitForm(response, response.url, { login: 'bob', password: 'bob-password' });
    assert.equal(done.response.status, 403);
    const page = await done.response.text();
    assert.match(page, /Code: ERR_STEP_UP_FAILED/);
    assert.match(page, /multi-factor authentication/);
    assert.equal(done.chain.filter((url) => url.includes('/.gatehouse/signin')).length, 0, 'not sent to sign in again');
    assert.ok(chain.length < 10);
    assert.equal((await api(browser, `${stack.urls.wiki}/docs`)).status, 200, 'the earlier session still works where MFA is not needed');
  });

  it('answers an API call that needs MFA with 401 and the step-up URL, never a redirect', async () => {
    const browser = stack.browser();
    await signIn(stack, browser, 'bob', '/docs');
    const result = await api(browser, `${stack.urls.wiki}/admin/api`);
    assert.equal(result.status, 401);
    assert.equal(result.body?.error.code, 'ERR_STEP_UP_REQUIRED');
    assert.match(result.body?.error.signInUrl ?? '', /stepup=mfa$/);
  });

  it('reads the location through a trusted proxy only', async () => {
    const browser = stack.browser();
    await signIn(stack, browser, 'bob', '/docs');
    const outside = await api(browser, `${stack.urls.wiki}/hr/pay`, { 'x-forwarded-for': '198.51.100.7' });
    assert.equal(outside.status, 403);
    assert.ok(outside.body?.error.details?.some((line) => /current network/.test(line)));
    assert.ok(outside.body?.error.details?.some((line) => /corporate network/.test(line)));
    const inside = await api(browser, `${stack.urls.wiki}/hr/pay`, { 'x-forwarded-for': '10.20.30.40' });
    assert.equal(inside.status, 200);
  });

  it('blocks API clients where only browsers are allowed', async () => {
    const browser = stack.browser();
    await signIn(stack, browser, 'bob', '/docs');
    const cookie = await browser.jar.getCookieString(`${stack.urls.wiki}/`);
    const script = stack.browser();
    const asScript = await script.request(`${stack.urls.wiki}/ui/page`, { headers: { cookie, accept: 'application/json', 'user-agent': 'curl/8.5.0' } });
    assert.equal(asScript.status, 403);
    const asBrowser = await api(browser, `${stack.urls.wiki}/ui/page`, { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' });
    assert.equal(asBrowser.status, 200);
  });

  it('matches ID-token claims, and requires them', async () => {
    const bob = stack.browser();
    const { response } = await bob.signIn(`${stack.urls.other}/`, 'bob', 'bob-password');
    assert.equal(response.status, 403);
    const alice = stack.browser();
    const ok = await alice.signIn(`${stack.urls.other}/`, 'alice', 'alice-password');
    assert.equal(ok.response.status, 200);
  });

  it('asks for a new sign-in when the authentication is older than the sign-in frequency', async () => {
    const browser = stack.browser();
    const first = await browser.signIn(`${stack.urls.other}/`, 'alice', 'alice-password');
    assert.equal(first.response.status, 200);
    stack.clock.advance(11 * 60 * 1000);
    const result = await api(browser, `${stack.urls.other}/later`);
    assert.equal(result.status, 401);
    assert.equal(result.body?.error.code, 'ERR_STEP_UP_REQUIRED');
    assert.match(result.body?.error.signInUrl ?? '', /stepup=sign_in_frequency$/);
    const navigation = await browser.request(`${stack.urls.other}/later`, { navigate: true });
    assert.equal(navigation.status, 302);
    assert.match(navigation.headers.get('location') ?? '', /stepup=sign_in_frequency$/);
  });
});

describe('conditional access: a spoofed X-Forwarded-For from an untrusted client', function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    // The gateway trusts only a proxy at 127.0.0.2; the test client (127.0.0.1) is not it.
    stack = await startStack({ configure: (config) => withPolicies(config, ['127.0.0.2/32']) });
  });
  after(async () => {
    await stack.close();
  });

  it('ignores the header, so the office network cannot be claimed', async () => {
    const browser = stack.browser();
    await signIn(stack, browser, 'bob', '/docs');
    const response = await browser.request(`${stack.urls.wiki}/hr/pay`, { headers: { accept: 'application/json', 'x-forwarded-for': '10.20.30.40' } });
    assert.equal(response.status, 403);
    const denied = stack.audit.ofType('access.denied').at(-1);
    assert.equal(denied?.clientIp, '127.0.0.1');
  });
});

describe('conditional access: the built-in risk signals', function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({
      configure: (config) => ({
        ...config,
        trustedProxies: ['127.0.0.1/32'],
        risk: {
          failedSignIns: { perAddress: { medium: 3, high: 6 } },
          manyNetworks: { window: '1h', medium: 3, high: 5 },
        },
        apps: (config.apps ?? []).map((app) =>
          app.id === 'wiki'
            ? {
                ...app,
                policies: [
                  { name: 'risky sign-ins', conditions: { signInRisk: ['medium', 'high'] }, grant: { block: true } },
                  { name: 'risky users', conditions: { userRisk: ['medium', 'high'] }, grant: { block: true } },
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

  /** A browser behind the trusted proxy, seen as coming from `ip`. */
  const from = (ip: string): BrowserClient => stack.browser({ extraHeaders: { 'x-forwarded-for': ip } });

  it('blocks sign-ins from an address with repeated failed sign-ins', async () => {
    const ip = '198.51.100.9';
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const browser = from(ip);
      const { response } = await browser.navigate(`${stack.urls.wiki}/`);
      // The user cancels at the provider: the callback reports access_denied, a failed sign-in.
      const cancelled = await browser.navigate(response.url.replace(/\/interaction\/([^/?#]+).*$/, '/interaction/$1/abort'));
      assert.equal(cancelled.response.status, 403);
    }
    const { response } = await from(ip).signIn(`${stack.urls.wiki}/`, 'bob', 'bob-password');
    assert.equal(response.status, 403);
    assert.match(await response.text(), /judged risky/);
    const decision = stack.audit.ofType('policy.decision').at(-1);
    assert.equal(decision?.details?.['signInRisk'], 'medium');
    const elsewhere = await from('203.0.113.50').signIn(`${stack.urls.wiki}/`, 'bob', 'bob-password');
    assert.equal(elsewhere.response.status, 200, 'another address is not affected');
  });

  it('raises user risk when one user signs in from many networks within the hour', async () => {
    const networks = ['192.0.2.10', '198.18.0.10', '100.64.0.10'];
    const statuses: number[] = [];
    for (const ip of networks) {
      const { response } = await from(ip).signIn(`${stack.urls.wiki}/`, 'dana', 'dana-password');
      statuses.push(response.status);
    }
    assert.deepEqual(statuses, [200, 200, 403], 'the third network in an hour is one too many');
    assert.equal(stack.audit.ofType('policy.decision').at(-1)?.details?.['userRisk'], 'medium');
  });
});
