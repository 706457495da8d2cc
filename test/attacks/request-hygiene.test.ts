import assert from 'node:assert/strict';
import { rawHttps } from '../support/raw-http.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

describe('attack: requests we will not route or forward as sent', function () {
  this.timeout(30_000);
  let stack: Stack;
  let host: string;

  before(async () => {
    stack = await startStack();
    host = new URL(stack.urls.wiki).host;
  });
  after(async () => {
    await stack.close();
  });
  beforeEach(() => {
    stack.audit.clear();
    stack.backend.requests.length = 0;
  });

  const raw = (request: string): Promise<string> => rawHttps(stack.port, 'wiki.gatehouse.test', stack.ca.certPem, request);

  it('refuses an absolute-form request target (routing on what was received)', async () => {
    const response = await raw(`GET https://evil.example/admin HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`);
    assert.match(response, /^HTTP\/1\.1 400 /);
    assert.match(response, /"code":"ERR_BAD_REQUEST"/);
    assert.equal(stack.audit.ofType('request.rejected').at(-1)?.reason, 'request_target_not_origin_form');
    assert.equal(stack.backend.requests.length, 0);
  });

  it('refuses two Host headers', async () => {
    const response = await raw(`GET / HTTP/1.1\r\nHost: ${host}\r\nHost: open.gatehouse.test\r\nConnection: close\r\n\r\n`);
    assert.match(response, /^HTTP\/1\.1 400 /);
    assert.equal(stack.backend.requests.length, 0);
  });

  it('refuses a Host that is not a host name', async () => {
    for (const bad of ['wiki.gatehouse.test/../open', 'user@wiki.gatehouse.test', '']) {
      const response = await raw(`GET / HTTP/1.1\r\nHost: ${bad}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`);
      assert.match(response, /^HTTP\/1\.1 (400|404) /, bad);
    }
    assert.equal(stack.backend.requests.length, 0);
  });

  it('does not crash on a header name with a space, or on Content-Length with Transfer-Encoding', async () => {
    for (const request of [
      `GET / HTTP/1.1\r\nHost: ${host}\r\nBad Header: x\r\nConnection: close\r\n\r\n`,
      `POST /x HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`,
      `POST /x HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 4\r\nContent-Length: 5\r\nConnection: close\r\n\r\nabcd`,
      `POST /x HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\t\r\nConnection: close\r\n\r\n0\r\n\r\n`,
    ]) {
      const response = await raw(request);
      assert.match(response, /^HTTP\/1\.1 400 /, request.split('\r\n').slice(0, 3).join(' | '));
    }
    assert.equal(stack.backend.requests.length, 0);
    const events = stack.audit.ofType('request.rejected');
    assert.ok(events.length >= 4 && events.every((event) => event.reason?.startsWith('client_error:')));
  });

  it('strips spoofed forwarding and identity headers, and sets its own', async () => {
    const response = await stack.browser().request(`${stack.urls.open}/whoami`, {
      headers: {
        accept: 'application/json',
        'x-forwarded-for': '10.9.9.9',
        'x-forwarded-host': 'admin.internal',
        'x-forwarded-proto': 'http',
        forwarded: 'for=10.9.9.9;host=admin.internal',
        'x-real-ip': '10.9.9.9',
        'x-request-id': 'client-chosen',
        'x-gatehouse-user': 'admin',
        'x-original-url': '/admin',
        'x-rewrite-url': '/admin',
      },
    });
    const echo = (await response.json()) as { headers: Record<string, string | undefined> };
    assert.equal(echo.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(echo.headers['x-forwarded-host'], new URL(stack.urls.open).host);
    assert.equal(echo.headers['x-forwarded-proto'], 'https');
    assert.equal(echo.headers['forwarded'], undefined);
    assert.equal(echo.headers['x-real-ip'], undefined);
    assert.notEqual(echo.headers['x-request-id'], 'client-chosen');
    assert.equal(echo.headers['x-gatehouse-user'], undefined);
    assert.equal(echo.headers['x-original-url'], undefined);
    assert.equal(echo.headers['x-rewrite-url'], undefined);
  });

  it('reserves /.gatehouse/ on every app: nothing under it is forwarded', async () => {
    for (const url of [`${stack.urls.wiki}/.gatehouse/anything`, `${stack.urls.open}/.gatehouse/callback`]) {
      const response = await stack.browser().request(url, { headers: { accept: 'application/json' } });
      assert.equal(response.status, 404, url);
    }
    assert.equal(stack.backend.requests.length, 0);
  });

  it('answers a dead backend with 502 that names the step, not the address', async () => {
    const dead = await startStack({
      configure: (config) => ({
        ...config,
        apps: (config.apps ?? []).map((app) => ({ ...app, internalUrl: 'http://127.0.0.1:1' })),
      }),
    });
    try {
      const browser = dead.browser();
      await signIn(dead, browser, 'bob').catch(() => undefined);
      const api = await browser.request(`${dead.urls.wiki}/x`, { headers: { accept: 'application/json' } });
      assert.equal(api.status, 502);
      const text = await api.text();
      const body = JSON.parse(text) as { error: { code: string; step: string; requestId: string } };
      assert.equal(body.error.code, 'ERR_BACKEND_UNREACHABLE');
      assert.equal(body.error.step, 'forwarding');
      assert.doesNotMatch(text, /127\.0\.0\.1|:1\b|ECONNREFUSED/);
      const page = await browser.request(`${dead.urls.open}/x`, { navigate: true });
      assert.equal(page.status, 502);
      assert.doesNotMatch(await page.text(), /127\.0\.0\.1|ECONNREFUSED|at .*\.ts/);
      assert.equal(dead.audit.ofType('forward.failed').at(-1)?.reason, 'backend_ECONNREFUSED');
    } finally {
      await dead.close();
    }
  });
});
