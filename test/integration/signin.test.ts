import assert from 'node:assert/strict';
import { ROBOTS_TXT } from '../../src/robots/robots-denier.ts';
import type { BrowserRequestInit } from '../../dev/lib/browser-client.ts';
import { SECRET_1, SECRET_2, signIn, startStack, type Stack } from '../support/stack.ts';

interface Echo {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
}

describe('sign-in with OpenID Connect (real identity provider)', function () {
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
    stack.clock.reset();
  });

  it('sends a browser through the provider and back to the page it asked for', async () => {
    const browser = stack.browser();
    const { response, chain } = await signIn(stack, browser, 'alice', '/docs/page?x=1');
    assert.equal(response.status, 200);
    assert.equal(chain[1], `${stack.urls.wiki}/.gatehouse/signin?rd=${encodeURIComponent('/docs/page?x=1')}`);
    assert.ok(
      chain.some((url) => url.startsWith(`${stack.idp.issuer}/`)),
      'went to the identity provider',
    );
    assert.ok(
      chain.some((url) => url.startsWith(`${stack.urls.wiki}/.gatehouse/callback?`)),
      'came back to the callback',
    );
    assert.equal(chain.at(-1), `${stack.urls.wiki}/docs/page?x=1`);
    const echo = (await response.json()) as Echo;
    assert.equal(echo.path, '/docs/page?x=1');
    assert.equal(stack.audit.ofType('signin.succeeded').length, 1);
    assert.equal(stack.audit.ofType('signin.succeeded')[0]?.user?.sub, 'user-alice');
  });

  it('sets a non-persistent __Host- cookie: Secure, HttpOnly, SameSite=Lax, Path=/', async () => {
    const browser = stack.browser();
    await signIn(stack, browser);
    const cookies = await browser.jar.getCookies(`${stack.urls.wiki}/`);
    const session = cookies.find((cookie) => cookie.key === '__Host-gatehouse');
    assert.ok(session, 'session cookie set');
    assert.equal(session.secure, true);
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'lax');
    assert.equal(session.path, '/');
    assert.equal(session.hostOnly, true);
    assert.equal(session.expires, 'Infinity', 'no Expires/Max-Age: a browser-session cookie');
  });

  it('forwards the original request without Gatehouse cookies and with forwarding headers', async () => {
    const browser = stack.browser();
    await signIn(stack, browser);
    await browser.jar.setCookie('app_pref=dark; Path=/', `${stack.urls.wiki}/`);
    const response = await browser.request(`${stack.urls.wiki}/api/items?id=7`, {
      headers: { accept: 'application/json', 'x-forwarded-for': '6.6.6.6', 'x-gatehouse-user': 'admin', 'x-original-url': '/admin' },
    });
    assert.equal(response.status, 200);
    const echo = (await response.json()) as Echo;
    assert.equal(echo.path, '/api/items?id=7');
    assert.equal(echo.headers['cookie'], 'app_pref=dark');
    assert.equal(echo.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(echo.headers['x-forwarded-proto'], 'https');
    assert.equal(echo.headers['x-forwarded-host'], new URL(stack.urls.wiki).host);
    assert.equal(echo.headers['x-gatehouse-user'], undefined);
    assert.equal(echo.headers['x-original-url'], undefined);
    assert.match(echo.headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(echo.headers['x-request-id'], response.headers.get('x-request-id'));
  });

  it('answers API and XHR requests without a session with 401 JSON, never a redirect', async () => {
    const browser = stack.browser();
    const inits: BrowserRequestInit[] = [
      { method: 'GET', headers: { accept: 'application/json' } },
      { method: 'GET', headers: { accept: 'text/html', 'x-requested-with': 'XMLHttpRequest' } },
      { method: 'GET', headers: { accept: 'text/html', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' } },
      { method: 'POST', headers: { accept: 'text/html', 'content-type': 'application/json' }, body: '{"a":1}' },
      { method: 'GET', headers: { accept: '*/*' } },
    ];
    for (const init of inits) {
      const response = await browser.request(`${stack.urls.wiki}/api/data`, init);
      assert.equal(response.status, 401, JSON.stringify(init));
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      assert.match(
        response.headers.get('www-authenticate') ?? '',
        /^Gatehouse realm="wiki", signin_url="https:\/\/wiki\.gatehouse\.test:\d+\/\.gatehouse\/signin\?rd=%2Fapi%2Fdata"$/,
      );
      const body = (await response.json()) as { error: { code: string; step: string; requestId: string; signInUrl: string } };
      assert.equal(body.error.code, 'ERR_SESSION_REQUIRED');
      assert.equal(body.error.step, 'session');
      assert.equal(body.error.requestId, response.headers.get('x-request-id'));
    }
    assert.equal(stack.backend.requests.length, 0, 'nothing reached the backend');
  });

  it('lets a pass-through app through without a session', async () => {
    const response = await stack.browser().request(`${stack.urls.open}/hello`, { headers: { accept: 'application/json' } });
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as Echo).path, '/hello');
    const signin = await stack.browser().request(`${stack.urls.open}/.gatehouse/signin?rd=/`);
    assert.equal(signin.status, 404);
  });

  it('answers 404 for a host that publishes no app, and forwards nothing', async () => {
    const response = await stack.browser().request(`${stack.urls.unknown}/`, { headers: { accept: 'application/json' } });
    assert.equal(response.status, 404);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'ERR_UNKNOWN_HOST');
    assert.equal(stack.backend.requests.length, 0);
  });

  for (const app of ['wiki', 'open'] as const) {
    it(`answers robots.txt itself on the ${app === 'wiki' ? 'pre-auth' : 'pass-through'} app, before any sign-in`, async () => {
      const browser = stack.browser();
      const get = await browser.request(`${stack.urls[app]}/robots.txt`);
      assert.equal(get.status, 200);
      assert.equal(await get.text(), ROBOTS_TXT);
      assert.equal(ROBOTS_TXT, 'User-agent: *\nDisallow: /\n');
      assert.equal(get.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(get.headers.get('x-robots-tag'), 'noindex, nofollow');
      const head = await browser.request(`${stack.urls[app]}/robots.txt`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), '');
      assert.equal(stack.backend.requests.length, 0, 'robots.txt is never forwarded');
      assert.equal(stack.audit.ofType('signin.started').length, 0);
    });
  }

  it('marks every response noindex: redirects, errors and forwarded pages', async () => {
    const browser = stack.browser();
    const redirect = await browser.request(`${stack.urls.wiki}/`, { navigate: true });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('x-robots-tag'), 'noindex, nofollow');
    const forwarded = await browser.request(`${stack.urls.open}/robots-tag`);
    assert.equal(forwarded.headers.get('x-robots-tag'), 'noindex, nofollow');
    const unknown = await browser.request(`${stack.urls.unknown}/`);
    assert.equal(unknown.headers.get('x-robots-tag'), 'noindex, nofollow');
  });

  it('lets several tabs sign in at once', async () => {
    const browser = stack.browser();
    const stopAtLogin = (url: URL): boolean => url.origin === stack.idp.issuer && url.pathname.startsWith('/interaction/');
    const tab1 = await browser.navigate(`${stack.urls.wiki}/tab-one`, { stopAt: stopAtLogin });
    const tab2 = await browser.navigate(`${stack.urls.wiki}/tab-two`, { stopAt: stopAtLogin });
    const alice = stack.idp.users.find((user) => user.login === 'alice')!;
    // Finish the second tab first, then the first one.
    const done2 = await browser.navigate(tab2.chain.at(-1)!, {});
    const second = await browser.submitForm(done2.response, done2.response.url, { login: alice.login, password: alice.password });
    assert.equal(second.chain.at(-1), `${stack.urls.wiki}/tab-two`);
    const done1 = await browser.navigate(tab1.chain.at(-1)!, {});
    // The provider remembers the login now; the first tab's attempt completes with its own state.
    const first = done1.chain.at(-1)?.startsWith(stack.urls.wiki)
      ? done1
      : await browser.submitForm(done1.response, done1.response.url, { login: alice.login, password: alice.password });
    assert.equal(first.chain.at(-1), `${stack.urls.wiki}/tab-one`);
    assert.equal(stack.audit.ofType('signin.succeeded').length, 2);
    assert.equal(stack.audit.ofType('signin.failed').length, 0);
  });

  it('logs out for real: the provider is told, and a copy of the cookie no longer works', async () => {
    const browser = stack.browser();
    await signIn(stack, browser);
    const copied = await browser.jar.getCookieString(`${stack.urls.wiki}/`);
    const { chain, response } = await browser.navigate(`${stack.urls.wiki}/.gatehouse/logout`, { stopAt: (url) => url.origin === stack.idp.issuer });
    const endSession = new URL(chain.at(-1)!);
    assert.equal(response.status, 303);
    assert.equal(endSession.origin, stack.idp.issuer);
    assert.ok(endSession.searchParams.get('id_token_hint'), 'id_token_hint sent');
    assert.equal(endSession.searchParams.get('client_id'), 'gatehouse-test');
    assert.equal(endSession.searchParams.get('post_logout_redirect_uri'), `${stack.urls.wiki}/.gatehouse/signed-out`);
    assert.equal(stack.audit.ofType('logout').length, 1);
    assert.equal((await browser.jar.getCookies(`${stack.urls.wiki}/`)).filter((c) => c.key === '__Host-gatehouse').length, 0);

    const replay = await stack.browser().request(`${stack.urls.wiki}/secret`, { headers: { cookie: copied, accept: 'application/json' } });
    assert.equal(replay.status, 401);
    assert.equal(((await replay.json()) as { error: { code: string } }).error.code, 'ERR_SESSION_REVOKED');
    const rejected = stack.audit.ofType('session.rejected').at(-1);
    assert.equal(rejected?.reason, 'revoked');
    assert.equal(stack.backend.requests.filter((request) => request.path === '/secret').length, 0);
  });

  it('asks before logging out when another site sends the browser to logout', async () => {
    const browser = stack.browser();
    await signIn(stack, browser);
    const response = await browser.request(`${stack.urls.wiki}/.gatehouse/logout`, { navigate: true, initiator: 'https://evil.example/' });
    assert.equal(response.status, 200);
    assert.match(await response.text(), /<form method="post" action="\/\.gatehouse\/logout">/);
    assert.equal(stack.audit.ofType('logout').length, 0);
    const still = await browser.request(`${stack.urls.wiki}/still`, { headers: { accept: 'application/json' } });
    assert.equal(still.status, 200);
  });

  it('makes the cookie persistent when configured', async () => {
    const persistent = await startStack({ configure: (config) => ({ ...config, session: { ...config.session, persistent: true } }) });
    try {
      const browser = persistent.browser();
      await signIn(persistent, browser);
      const session = (await browser.jar.getCookies(`${persistent.urls.wiki}/`)).find((c) => c.key === '__Host-gatehouse');
      assert.ok(session && typeof session.maxAge === 'number', 'Max-Age set');
      const lifetime = session.TTL() / 1000;
      assert.ok(lifetime > 3000 && lifetime <= 3600, `bounded by the ID token's lifetime: ${lifetime}`);
    } finally {
      await persistent.close();
    }
  });

  it('rotates keys: the newest secret seals, older ones still unseal', async () => {
    const browser = stack.browser();
    await signIn(stack, browser);
    const ok = async (): Promise<number> => (await browser.request(`${stack.urls.wiki}/rotated`, { headers: { accept: 'application/json' } })).status;
    try {
      stack.rebuild((config) => ({
        ...config,
        session: {
          secrets: [
            { id: 2, secret: SECRET_2 },
            { id: 1, secret: SECRET_1 },
          ],
        },
      }));
      assert.equal(await ok(), 200, 'a cookie sealed with secret 1 is still accepted');
      const fresh = stack.browser();
      await signIn(stack, fresh);
      stack.rebuild((config) => ({ ...config, session: { secrets: [{ id: 2, secret: SECRET_2 }] } }));
      assert.equal(await ok(), 401, 'retiring secret 1 ends its sessions');
      assert.equal(stack.audit.ofType('session.rejected').at(-1)?.reason, 'unknown_key');
      const freshStatus = (await fresh.request(`${stack.urls.wiki}/rotated`, { headers: { accept: 'application/json' } })).status;
      assert.equal(freshStatus, 200, 'new sessions were sealed with secret 2');
    } finally {
      stack.rebuild((config) => config);
    }
  });

  it('ends a session no later than the ID token expires', async () => {
    const browser = stack.browser();
    await signIn(stack, browser);
    const status = async (): Promise<number> => (await browser.request(`${stack.urls.wiki}/x`, { headers: { accept: 'application/json' } })).status;
    assert.equal(await status(), 200);
    stack.clock.advance(3601 * 1000);
    assert.equal(await status(), 401);
    const expired = stack.audit.ofType('session.expired').at(-1);
    assert.equal(expired?.reason, 'expired');
    assert.equal(expired?.user?.sub, 'user-alice');
  });

  it('ends an idle session, and keeps an active one alive past the idle timeout', async () => {
    stack.rebuild((config) => ({ ...config, session: { ...config.session, idleTimeout: '10m' } }));
    try {
      const active = stack.browser();
      const idle = stack.browser();
      await signIn(stack, active);
      await signIn(stack, idle);
      const status = async (browser: typeof active): Promise<number> =>
        (await browser.request(`${stack.urls.wiki}/x`, { headers: { accept: 'application/json' } })).status;
      for (let minute = 0; minute < 3; minute += 1) {
        stack.clock.advance(6 * 60 * 1000);
        assert.equal(await status(active), 200, `active session alive after ${(minute + 1) * 6} minutes`);
      }
      assert.equal(await status(idle), 401);
      assert.equal(stack.audit.ofType('session.expired').at(-1)?.reason, 'idle');
    } finally {
      stack.rebuild((config) => config);
    }
  });
});
