import assert from 'node:assert/strict';
import { startTestBackend, type TestBackend } from '../../../src/testing/test-backend.ts';

describe('gatehouse/testing: startTestBackend', () => {
  let backend: TestBackend;
  let release: () => void = () => undefined;

  before(async () => {
    backend = await startTestBackend({
      routes: {
        '/with-cookie': (_req, res, echo) => {
          res.setHeader('Set-Cookie', 'app_pref=dark; Path=/');
          echo();
        },
        '/redirect': (req, res) => {
          req.resume();
          res.writeHead(302, { Location: '/elsewhere' }).end();
        },
        '/hold': (req, res) => {
          req.resume();
          release = () => res.end('released');
        },
      },
    });
  });
  after(() => backend.close());
  beforeEach(() => {
    backend.requests.length = 0;
  });

  it('says how long its answer is, so a client reading one answer on a kept-alive connection knows where it ends', async () => {
    const response = await fetch(`${backend.url}/echo`);
    const body = await response.text();
    assert.equal(response.headers.get('transfer-encoding'), null);
    assert.equal(response.headers.get('content-length'), String(Buffer.byteLength(body)));
  });

  it('echoes what it received as JSON and keeps it, path and query as the backend saw them', async () => {
    const response = await fetch(`${backend.url}/api/items?id=7`, { method: 'POST', body: 'hello', headers: { 'x-test': '1' } });
    assert.equal(response.status, 200);
    const echoed = (await response.json()) as { method: string; path: string; headers: Record<string, string>; body: string };
    assert.deepEqual([echoed.method, echoed.path, echoed.headers['x-test'], echoed.body], ['POST', '/api/items?id=7', '1', 'hello']);
    assert.deepEqual(
      backend.requests.map((request) => [request.path, request.body]),
      [['/api/items?id=7', 'hello']],
    );
  });

  it('lets a route add headers to the echo, or answer by itself', async () => {
    const withCookie = await fetch(`${backend.url}/with-cookie?x=1`);
    assert.equal(withCookie.headers.get('set-cookie'), 'app_pref=dark; Path=/');
    assert.equal(((await withCookie.json()) as { path: string }).path, '/with-cookie?x=1');
    const redirect = await fetch(`${backend.url}/redirect`, { redirect: 'manual' });
    assert.equal(redirect.status, 302);
    assert.deepEqual(
      backend.requests.map((request) => request.path),
      ['/with-cookie?x=1', '/redirect'],
    );
  });

  it('records a request as it arrives, before any answer', async () => {
    const answer = fetch(`${backend.url}/hold`);
    for (let waited = 0; backend.requests.length === 0 && waited < 5_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(
      backend.requests.map((request) => request.path),
      ['/hold'],
    );
    release();
    assert.equal(await (await answer).text(), 'released');
  });

  it('refuses bodies over 1 MiB instead of buffering them', async () => {
    const response = await fetch(`${backend.url}/big`, { method: 'POST', body: Buffer.alloc(1024 * 1024 + 1) });
    assert.equal(response.status, 413);
  });

  it('exposes its server, e.g. for a WebSocket server', () => {
    assert.equal(backend.server.listening, true);
  });
});
