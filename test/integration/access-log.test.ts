import assert from 'node:assert/strict';
import { once } from 'node:events';
import WebSocket from 'ws';
import { createLogger } from '../../src/logging/logger.ts';
import { toLoopback } from '../support/loopback.ts';
import { rawHttps } from '../support/raw-http.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

type Line = Record<string, unknown>;

describe('access log: one line per request, through a real gateway', function () {
  this.timeout(30_000);
  let stack: Stack;
  let lines: Line[] = [];

  const logger = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Line) } });
  const accessLines = (): Line[] => lines.filter((line) => line['component'] === 'access');
  /** The line of the request with this X-Request-Id (written when its answer is done, so it may come a moment later). */
  async function lineOf(requestId: string | null): Promise<Line> {
    for (let tries = 0; tries < 50; tries += 1) {
      const found = accessLines().find((line) => line['requestId'] === requestId);
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`no access line for ${requestId}: ${JSON.stringify(accessLines())}`);
  }

  before(async () => {
    stack = await startStack({ gatewayOptions: { logger } });
  });
  after(() => stack.close());
  beforeEach(() => {
    lines = [];
  });

  it('logs a forwarded request with its fields, the path without the query', async () => {
    const response = await stack.browser().request(`${stack.urls.open}/files/report?code=abc123456789&page=2`);
    const body = await response.text();
    assert.equal(response.status, 200);
    const line = await lineOf(response.headers.get('x-request-id'));
    assert.equal(line['msg'], 'request');
    assert.equal(line['level'], 'info');
    assert.match(String(line['time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(line['app'], 'open');
    assert.equal(line['method'], 'GET');
    assert.equal(line['path'], '/files/report');
    assert.equal(line['query'], undefined);
    assert.equal(line['status'], 200);
    assert.equal(line['bytes'], Buffer.byteLength(body));
    assert.equal(typeof line['durationMs'], 'number');
    assert.equal(line['clientIp'], '127.0.0.1');
    assert.equal(line['step'], 'upstream');
    assert.equal(line['user'], undefined);
    assert.doesNotMatch(JSON.stringify(line), /abc123456789|page=2/);
  });

  it('logs a 401 from the session gate', async () => {
    const response = await stack.browser().request(`${stack.urls.wiki}/api/data`, { headers: { accept: 'application/json' } });
    assert.equal(response.status, 401);
    const line = await lineOf(response.headers.get('x-request-id'));
    assert.equal(line['status'], 401);
    assert.equal(line['app'], 'wiki');
    assert.equal(line['step'], 'session-gate');
    assert.equal(line['path'], '/api/data');
  });

  it('logs the sign-in callback without its code and state, then the user of the signed-in requests', async () => {
    const browser = stack.browser();
    await signIn(stack, browser, 'alice');
    const callback = accessLines().find((line) => line['path'] === '/.gatehouse/callback');
    assert.ok(callback, JSON.stringify(accessLines()));
    assert.equal(callback['step'], 'signin');
    assert.equal(callback['status'], 302);
    assert.equal(callback['query'], undefined);
    const cookies = await browser.jar.getCookies(`${stack.urls.wiki}/`);
    for (const line of accessLines()) {
      const text = JSON.stringify(line);
      assert.doesNotMatch(text, /code=|state=|eyJ|Fe26/);
      for (const cookie of cookies) assert.ok(!text.includes(cookie.value), `no cookie value in ${text}`);
    }
    const response = await browser.request(`${stack.urls.wiki}/page`);
    await response.text();
    const line = await lineOf(response.headers.get('x-request-id'));
    assert.equal(line['user'], 'user-alice');
    assert.equal(line['step'], 'upstream');
  });

  it('names the step that refused: request checks, app resolution, the sign-in endpoints', async () => {
    const raw = (target: string, host: string): Promise<string> =>
      rawHttps(
        stack.port,
        'wiki.gatehouse.test',
        stack.ca.certPem,
        `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`,
      );
    const steps: [string, string, number, string][] = [
      ['https://evil.example/x', `wiki.gatehouse.test:${stack.port}`, 400, 'request-checks'],
      ['/x', `nowhere.gatehouse.test:${stack.port}`, 404, 'app-resolution'],
      ['/.gatehouse/nothing-here', `wiki.gatehouse.test:${stack.port}`, 404, 'signin'],
      ['/.gatehouse/jwks.json', `wiki.gatehouse.test:${stack.port}`, 200, 'jwks'],
    ];
    for (const [target, host, status, step] of steps) {
      const response = await raw(target, host);
      const requestId = /\r\nx-request-id: ([\w-]+)/i.exec(response)?.[1] ?? null;
      const line = await lineOf(requestId);
      assert.deepEqual([line['status'], line['step']], [status, step], `${target} on ${host}`);
    }
  });

  it('logs robots.txt, answered before the request has an id', async () => {
    const response = await stack.browser().request(`${stack.urls.wiki}/robots.txt`);
    const body = await response.text();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const line = accessLines().find((entry) => entry['path'] === '/robots.txt');
    assert.ok(line);
    assert.equal(line['step'], 'robots');
    assert.equal(line['requestId'], undefined);
    assert.equal(line['clientIp'], '127.0.0.1');
    assert.equal(line['bytes'], Buffer.byteLength(body));
  });

  it('logs a WebSocket when it closes, and a refused one at once', async () => {
    const url = `${stack.urls.wiki.replace('https', 'wss')}/ws?token=abcdefghijkl`;
    const refused = new WebSocket(url, { ca: stack.ca.certPem, lookup: toLoopback, headers: { origin: stack.urls.wiki }, perMessageDeflate: false });
    refused.on('error', () => {});
    await once(refused, 'unexpected-response');
    const browser = stack.browser();
    await signIn(stack, browser, 'alice');
    const cookie = await browser.jar.getCookieString(`${stack.urls.wiki}/`);
    const socket = new WebSocket(url, { ca: stack.ca.certPem, lookup: toLoopback, headers: { cookie, origin: stack.urls.wiki }, perMessageDeflate: false });
    await once(socket, 'message');
    socket.close();
    await once(socket, 'close');
    let sockets: Line[] = [];
    for (let tries = 0; tries < 50 && sockets.length < 2; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      sockets = accessLines().filter((line) => line['websocket'] === true);
    }
    const [no, yes] = sockets;
    assert.ok(no && yes, JSON.stringify(accessLines()));
    assert.deepEqual([no['status'], no['step'], no['user']], [401, 'session-gate', undefined]);
    assert.deepEqual([yes['status'], yes['step'], yes['user'], yes['app'], yes['path']], [101, 'upstream', 'user-alice', 'wiki', '/ws']);
    assert.ok(Number(yes['bytes']) > 0);
    assert.ok(typeof yes['requestId'] === 'string');
    assert.doesNotMatch(JSON.stringify(sockets), /abcdefghijkl/);
  });

  it('logs the query only when configured, with secret parameters redacted; and nothing when switched off', async () => {
    stack.rebuild((config) => ({ ...config, logging: { accessLog: { query: true } } }));
    let response = await stack.browser().request(`${stack.urls.open}/q?page=2&code=abc123456789&id_token=xyz&Access_Token=t&password=p&client_secret=s`);
    await response.text();
    const line = await lineOf(response.headers.get('x-request-id'));
    assert.equal(line['path'], '/q');
    assert.equal(line['query'], 'page=2&code=[redacted]&id_token=[redacted]&Access_Token=[redacted]&password=[redacted]&client_secret=[redacted]');

    stack.rebuild((config) => ({ ...config, logging: { accessLog: { enabled: false } } }));
    lines = [];
    response = await stack.browser().request(`${stack.urls.open}/off`);
    await response.text();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(accessLines(), []);
    stack.rebuild((config) => config);
  });
});
