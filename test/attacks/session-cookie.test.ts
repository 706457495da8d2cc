import assert from 'node:assert/strict';
import { rawHttps } from '../support/raw-http.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

describe('attack: session cookies', function () {
  this.timeout(30_000);
  let stack: Stack;
  let cookie: string;

  before(async () => {
    stack = await startStack();
    const browser = stack.browser();
    await signIn(stack, browser);
    const found = (await browser.jar.getCookies(`${stack.urls.wiki}/`)).find((c) => c.key === '__Host-gatehouse');
    assert.ok(found);
    cookie = found.value;
  });
  after(async () => {
    await stack.close();
  });
  beforeEach(() => {
    stack.audit.clear();
    stack.backend.requests.length = 0;
    stack.clock.reset();
  });

  async function getWith(origin: string, cookieHeader: string): Promise<{ status: number; code?: string }> {
    const response = await stack.browser().request(`${origin}/private`, {
      headers: { cookie: cookieHeader, accept: 'application/json' },
    });
    const body = response.status === 200 ? undefined : ((await response.json()) as { error: { code: string } });
    return { status: response.status, ...(body ? { code: body.error.code } : {}) };
  }

  it('accepts the genuine cookie (control)', async () => {
    assert.equal((await getWith(stack.urls.wiki, `__Host-gatehouse=${cookie}`)).status, 200);
  });

  const forgeries: Array<[string, (value: string) => string, string]> = [
    ['one flipped character in the ciphertext', (v) => flip(v, Math.floor(v.length / 2)), 'tampered'],
    ['one flipped character in the MAC', (v) => flip(v, v.indexOf('~') - 3), 'tampered'],
    ['a truncated seal', (v) => v.slice(0, Math.floor(v.length * 0.7)), 'tampered'],
    ['garbage', () => 'not-a-seal', 'tampered'],
    ['an empty-looking seal', () => 'Fe26.2**', 'tampered'],
    ['a seal with separators and quotes', () => 'Fe26.2*1*"a,b;c"', 'tampered'],
    ['a very long value', () => `Fe26.2*${'A'.repeat(5000)}`, 'tampered'],
  ];
  for (const [name, forge, reason] of forgeries) {
    it(`treats ${name} as no session, with an audit event`, async () => {
      const result = await getWith(stack.urls.wiki, `__Host-gatehouse=${forge(cookie)}`);
      assert.equal(result.status, 401);
      assert.equal(result.code, 'ERR_SESSION_INVALID');
      const event = stack.audit.ofType('session.rejected').at(-1);
      assert.equal(event?.reason, reason);
      assert.equal(event?.user, undefined, 'a forged cookie names nobody');
      assert.equal(stack.backend.requests.length, 0);
    });
  }

  it('refuses a cookie replayed on another app (bound to its app)', async () => {
    const result = await getWith(stack.urls.other, `__Host-gatehouse=${cookie}`);
    assert.equal(result.status, 401);
    assert.equal(result.code, 'ERR_SESSION_INVALID');
    const event = stack.audit.ofType('session.rejected').at(-1);
    assert.equal(event?.reason, 'other_app');
    assert.equal(event?.app, 'other');
    assert.equal(stack.backend.requests.length, 0);
  });

  it('refuses an expired session (controlled clock)', async () => {
    stack.clock.advance(2 * 3600 * 1000);
    const result = await getWith(stack.urls.wiki, `__Host-gatehouse=${cookie}`);
    assert.equal(result.status, 401);
    assert.equal(result.code, 'ERR_SESSION_EXPIRED');
    assert.equal(stack.audit.ofType('session.expired').at(-1)?.reason, 'expired');
  });

  it('ignores a session cookie without the __Host- prefix on an https app', async () => {
    const result = await getWith(stack.urls.wiki, `gatehouse=${cookie}`);
    assert.equal(result.code, 'ERR_SESSION_REQUIRED');
  });

  it('refuses a sign-in transaction cookie presented as a session cookie', async () => {
    const browser = stack.browser();
    await browser.navigate(`${stack.urls.wiki}/`, { stopAt: (url) => url.origin === stack.idp.issuer });
    const tx = (await browser.jar.getCookies(`${stack.urls.wiki}/.gatehouse/callback`)).find((c) => c.key.startsWith('__Secure-gh-tx-'));
    assert.ok(tx, 'transaction cookie present');
    const result = await getWith(stack.urls.wiki, `__Host-gatehouse=${tx.value}`);
    assert.equal(result.code, 'ERR_SESSION_INVALID');
    assert.equal(stack.audit.ofType('session.rejected').at(-1)?.reason, 'tampered');
  });

  it('answers a 40 KiB cookie header with 431 and an audit event, and keeps serving', async () => {
    const host = new URL(stack.urls.wiki).host;
    const response = await rawHttps(
      stack.port,
      'wiki.gatehouse.test',
      stack.ca.certPem,
      `GET / HTTP/1.1\r\nHost: ${host}\r\nCookie: big=${'x'.repeat(40 * 1024)}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(response, /^HTTP\/1\.1 431 /);
    assert.match(response, /"code":"ERR_HEADERS_TOO_LARGE"/);
    const event = stack.audit.ofType('request.rejected').at(-1);
    assert.equal(event?.code, 'ERR_HEADERS_TOO_LARGE');
    assert.equal(event?.reason, 'client_error:HPE_HEADER_OVERFLOW');
    assert.equal((await getWith(stack.urls.wiki, `__Host-gatehouse=${cookie}`)).status, 200, 'still serving');
  });

  it("answers a cookie header over the gateway limit (but under Node's) with 431 and a request ID", async () => {
    const response = await stack.browser().request(`${stack.urls.wiki}/`, {
      headers: { cookie: `__Host-gatehouse=${cookie}; big=${'y'.repeat(20 * 1024)}`, accept: 'application/json' },
    });
    assert.equal(response.status, 431);
    const body = (await response.json()) as { error: { code: string; requestId: string } };
    assert.equal(body.error.code, 'ERR_HEADERS_TOO_LARGE');
    assert.equal(stack.audit.ofType('request.rejected').at(-1)?.requestId, body.error.requestId);
    assert.equal(stack.backend.requests.length, 0);
  });

  it('never lets the backend overwrite or clear the session cookie', async () => {
    const response = await stack.browser().request(`${stack.urls.wiki}/set-cookie`, {
      headers: { cookie: `__Host-gatehouse=${cookie}`, accept: 'application/json' },
    });
    assert.equal(response.status, 200);
    assert.deepEqual(response.setCookies, ['app_pref=dark; Path=/']);
  });
});

function flip(value: string, index: number): string {
  const char = value[index] === 'A' ? 'B' : 'A';
  return `${value.slice(0, index)}${char}${value.slice(index + 1)}`;
}
