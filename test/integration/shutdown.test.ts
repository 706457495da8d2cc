import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { Agent, request } from 'node:https';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws';
import { createDevCa, type DevCa } from '../../dev/lib/dev-ca.ts';
import { startNode, type RunningProcess } from '../../dev/lib/processes.ts';
import { freePort } from '../support/free-port.ts';

const CLI = fileURLToPath(new URL('../../src/cli/gatehouse.ts', import.meta.url));
const HOST = 'open.gatehouse.test';

interface Answer {
  readonly status: number;
  readonly connection: string | undefined;
  readonly body: string;
  /** Milliseconds since the epoch when the request was sent. */
  readonly sentAt: number;
}

/** A backend whose answers take time: /slow after 1 s, /medium after 0.1 s, /stream in ten pieces over 1.5 s, /hang never; and a WebSocket echo. */
async function startSlowBackend(): Promise<{ url: string; received: () => number; close: () => Promise<void> }> {
  let received = 0;
  const server: Server = createServer((req, res) => {
    received += 1;
    if (req.url === '/slow') {
      setTimeout(() => res.end('slow done'), 1000);
    } else if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      let sent = 0;
      const timer = setInterval(() => {
        sent += 1;
        res.write(`piece ${sent}\n`);
        if (sent === 10) {
          clearInterval(timer);
          res.end();
        }
      }, 150);
      res.once('close', () => clearInterval(timer));
    } else if (req.url === '/medium') {
      setTimeout(() => res.end('medium'), 100);
    } else if (req.url === '/hang') {
      req.resume();
    } else {
      res.end('fast');
    }
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket) => socket.on('message', (data) => socket.send(data)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received: () => received,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('gatehouse serve: graceful shutdown', function () {
  this.timeout(60_000);
  let dir: string;
  let ca: DevCa;
  let backend: Awaited<ReturnType<typeof startSlowBackend>>;
  let serve: RunningProcess | undefined;
  let port: number;
  let adminPort: number;

  /** The admin listener's readiness checks: it keeps answering while requests drain. */
  async function readiness(): Promise<{ status: number; checks: { shutdown?: { ok: boolean; detail: string } } }> {
    const response = await fetch(`http://127.0.0.1:${adminPort}/.gatehouse/readyz`);
    return { status: response.status, checks: ((await response.json()) as { checks: { shutdown?: { ok: boolean; detail: string } } }).checks };
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-shutdown-'));
    ca = createDevCa();
    backend = await startSlowBackend();
    const certificate = ca.issueServerCertificate([HOST]);
    writeFileSync(join(dir, 'tls.crt'), certificate.certPem);
    writeFileSync(join(dir, 'tls.key'), certificate.keyPem);
  });
  afterEach(async () => {
    await serve?.stop('SIGKILL');
    serve = undefined;
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function startServe(shutdownTimeout: string): Promise<RunningProcess> {
    [port, adminPort] = await Promise.all([freePort(), freePort()]);
    writeFileSync(
      join(dir, 'gatehouse.yaml'),
      `server:
  host: 127.0.0.1
  port: ${port}
  tls: { certFile: tls.crt, keyFile: tls.key }
  shutdownTimeout: ${shutdownTimeout}
admin:
  listen: 127.0.0.1:${adminPort}
identityProvider:
  issuer: https://127.0.0.1:1
  clientId: gatehouse
  clientSecret: s3cret
session:
  secrets: [{ id: 1, secret: a-test-secret-that-is-long-enough-0123456789 }]
store:
  url: "memory:"
apps:
  - id: open
    externalUrl: https://${HOST}:${port}
    internalUrl: ${backend.url}
    preauth: passthrough
`,
    );
    const running = startNode(CLI, ['serve', '--config', join(dir, 'gatehouse.yaml'), '--log-level', 'warn']);
    serve = running;
    await running.waitFor(/listening on https:/);
    return running;
  }

  function get(path: string, agent: Agent): Promise<Answer> {
    const sentAt = Date.now();
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, servername: HOST, headers: { host: `${HOST}:${port}` }, ca: ca.certPem, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body, sentAt }));
        res.once('error', reject);
      });
      req.once('error', reject);
      req.end();
    });
  }

  function openWebSocket(): Promise<WebSocket> {
    // ws passes servername on to tls.connect; its types do not list it.
    const options = { servername: HOST, headers: { host: `${HOST}:${port}` }, ca: ca.certPem } as ClientOptions;
    const socket = new WebSocket(`wss://127.0.0.1:${port}/ws`, options);
    return once(socket, 'open').then(() => socket);
  }

  it('lets requests in flight finish, closes kept-alive connections and WebSockets (1001), and exits 0', async () => {
    const running = await startServe('10s');
    const keptAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const others = new Agent({ keepAlive: true });
    try {
      assert.equal((await get('/fast', keptAlive)).body, 'fast');
      const socket = await openWebSocket();
      const closeCode = once(socket, 'close').then(([code]) => code as number);
      const slow = [get('/slow', others), get('/slow', others), get('/slow', others)];
      const stream = get('/stream', others);
      // Everything has reached the backend before the signal.
      while (backend.received() < 5) await sleep(10);

      // A steady stream of new requests on the kept-alive connection, one after another, so that it is busy at the signal.
      let signalledAt = Number.POSITIVE_INFINITY;
      const steady: Array<Answer | Error> = [];
      const steadyDone = (async () => {
        while (Date.now() < signalledAt + 1500) {
          steady.push(await get('/medium', keptAlive).catch((error: unknown) => error as Error));
        }
      })();
      await sleep(200);
      const exited = once(running.child, 'exit') as Promise<[number | null]>;
      signalledAt = Date.now();
      running.child.kill('SIGTERM');
      // Load balancers are told to stop sending while what is in flight drains.
      await running.waitFor(/shutting down: /);
      const draining = await readiness();
      assert.equal(draining.status, 503);
      assert.deepEqual(draining.checks.shutdown, { ok: false, detail: 'shutting down: requests in flight finish' });

      for (const answer of await Promise.all(slow)) assert.deepEqual([answer.status, answer.body], [200, 'slow done']);
      const streamed = await stream;
      assert.equal(streamed.status, 200);
      assert.equal(streamed.body.split('\n').filter(Boolean).length, 10, 'the download was not cut short');
      assert.equal(await closeCode, 1001, 'the WebSocket was closed with 1001 (going away)');
      const [code] = await exited;
      assert.ok(Date.now() - signalledAt < 5000, 'exits once what was in flight finished, not at the deadline');
      assert.equal(code, 0, running.stderr());
      assert.match(running.stderr(), /shutting down: \d+ requests? and 1 WebSocket in flight, waiting up to 10 s/);
      await steadyDone;

      const before = steady.filter((answer): answer is Answer => !(answer instanceof Error) && answer.sentAt < signalledAt);
      assert.ok(before.length > 0);
      for (const answer of before) assert.equal(answer.status, 200);
      // The request the kept-alive connection carried at the signal was answered, and told the client to close the connection.
      const closing = steady.find((answer): answer is Answer => !(answer instanceof Error) && answer.connection === 'close');
      assert.ok(closing, `a response with Connection: close: ${JSON.stringify(steady)}`);
      assert.equal(closing.status, 200);
    } finally {
      keptAlive.destroy();
      others.destroy();
    }
  });

  it('cuts a request still running at the deadline and still exits 0 promptly', async () => {
    const running = await startServe('2s');
    const agent = new Agent({ keepAlive: true });
    try {
      const hanging = get('/hang', agent).then(
        () => 'answered',
        () => 'cut',
      );
      while (backend.received() < 1) await sleep(10);
      const exited = once(running.child, 'exit') as Promise<[number | null]>;
      const signalledAt = Date.now();
      running.child.kill('SIGTERM');
      assert.equal(await hanging, 'cut');
      const [code] = await exited;
      const took = Date.now() - signalledAt;
      assert.equal(code, 0, running.stderr());
      assert.ok(took >= 1900 && took < 5000, `exited ${took} ms after the signal`);
      assert.match(running.stderr(), /shutting down: 1 request in flight, waiting up to 2 s/);
      assert.match(running.stderr(), /deadline reached: 1 still in flight, cut/);
    } finally {
      agent.destroy();
    }
  });

  it('exits 1 at once on a second signal, saying so', async () => {
    const running = await startServe('30s');
    const agent = new Agent({ keepAlive: true });
    try {
      const hanging = get('/hang', agent).catch(() => undefined);
      while (backend.received() < 1) await sleep(10);
      const exited = once(running.child, 'exit') as Promise<[number | null]>;
      running.child.kill('SIGTERM');
      await running.waitFor(/shutting down: 1 request in flight/);
      const secondAt = Date.now();
      running.child.kill('SIGINT');
      const [code] = await exited;
      assert.equal(code, 1);
      assert.ok(Date.now() - secondAt < 2000);
      assert.match(running.stderr(), /SIGINT again, exiting now/);
      await hanging;
    } finally {
      agent.destroy();
    }
  });
});
