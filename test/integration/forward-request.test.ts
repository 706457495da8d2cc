import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Agent, createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { forwardRequest, forwardTarget, upstreamPath, type ForwardHooks } from '../../src/forwarding/forward-request.ts';

/** A front that forwards every request to `backendUrl` with Gatehouse's forwarder; `failures` records what it reported. */
async function startFront(backendUrl: string): Promise<{ server: Server; port: number; agent: Agent; failures: Error[] }> {
  const agent = new Agent({ keepAlive: true });
  const failures: Error[] = [];
  const target = forwardTarget(backendUrl);
  const hooks: ForwardHooks = {
    started: () => undefined,
    // As the gateway does: the client's connection is the front's business, not the backend's.
    head: (_res, _upstream, response) => {
      const { connection: _connection, 'keep-alive': _keepAlive, ...rest } = response.headers;
      return rest;
    },
    failed: (_req, res, error) => {
      failures.push(error);
      if (res.headersSent) res.destroy();
      else res.writeHead(502).end('failed');
    },
  };
  const server = createServer((req, res) => {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && name !== 'connection') headers[name] = value;
    forwardRequest(req, res, target, headers, agent, hooks);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, agent, failures };
}

async function listen<T extends Server | TcpServer>(server: T): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** Sends `request` as written and reads until the server closes (or `ms` passes). */
async function raw(port: number, request: string, ms = 3000): Promise<{ text: string; closed: boolean }> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.write(request);
  let text = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  const closed = await Promise.race([once(socket, 'close').then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);
  socket.destroy();
  return { text, closed };
}

describe('the forwarder (forward-request.ts)', function () {
  this.timeout(20_000);
  const closers: Array<() => void> = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });

  /** A Node backend that records each request's headers and body, and answers with `answer`. */
  async function nodeBackend(answer: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void) {
    const seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders; body: string }> = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: body.toString() });
        answer(req, res, body);
      });
    });
    const port = await listen(server);
    closers.push(() => server.close());
    return { url: `http://127.0.0.1:${port}`, seen };
  }

  async function front(backendUrl: string) {
    const started = await startFront(backendUrl);
    closers.push(() => {
      started.agent.destroy();
      started.server.close();
      started.server.closeAllConnections();
    });
    return started;
  }

  it('joins the internal base path and query with the request target', () => {
    assert.equal(upstreamPath(forwardTarget('http://app.internal:8080'), '/a/b?x=1'), '/a/b?x=1');
    assert.equal(upstreamPath(forwardTarget('http://app.internal:8080/base/'), '/a?x=1'), '/base/a?x=1');
    assert.equal(upstreamPath(forwardTarget('http://app.internal:8080/base'), '/'), '/base/');
    assert.equal(upstreamPath(forwardTarget('http://app.internal/base?tenant=7'), '/a?x=1'), '/base/a?tenant=7&x=1');
    assert.equal(upstreamPath(forwardTarget('http://app.internal/base?tenant=7'), '/a'), '/base/a?tenant=7');
    const target = forwardTarget('https://[::1]/x');
    assert.deepEqual([target.hostname, target.port, target.host, target.protocol], ['::1', 443, '[::1]', 'https:']);
  });

  it('forwards the method, target, headers and body, and answers with the backend status, head and body', async () => {
    const backend = await nodeBackend((_req, res, body) => res.writeHead(201, 'Made', { 'x-from': 'backend' }).end(`got ${body.length}`));
    const { port } = await front(`${backend.url}/base`);
    const response = await fetch(`http://127.0.0.1:${port}/items?q=1`, { method: 'POST', body: 'hello', headers: { 'x-test': 'yes' } });
    assert.equal(response.status, 201);
    assert.equal(response.statusText, 'Made');
    assert.equal(response.headers.get('x-from'), 'backend');
    assert.equal(await response.text(), 'got 5');
    assert.deepEqual(
      [backend.seen[0]?.method, backend.seen[0]?.url, backend.seen[0]?.body, backend.seen[0]?.headers['x-test']],
      ['POST', '/base/items?q=1', 'hello', 'yes'],
    );
  });

  it('says content-length: 0 for a DELETE or OPTIONS without a body', async () => {
    const backend = await nodeBackend((_req, res) => res.end('ok'));
    const { port } = await front(backend.url);
    for (const method of ['DELETE', 'OPTIONS']) {
      const { text } = await raw(port, `${method} /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
      assert.match(text, /^HTTP\/1\.1 200/);
    }
    assert.deepEqual(
      backend.seen.map((request) => [request.method, request.headers['content-length']]),
      [
        ['DELETE', '0'],
        ['OPTIONS', '0'],
      ],
    );
  });

  it('closes the backend connection after a chunked request body', async () => {
    const backend = await nodeBackend((_req, res, body) => res.end(body));
    const { port, agent } = await front(backend.url);
    const { text } = await raw(port, 'POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 200/);
    assert.match(text, /hello$/);
    assert.equal(backend.seen[0]?.headers.connection, 'close');
    assert.equal(backend.seen[0]?.body, 'hello');
    assert.equal(Object.keys(agent.freeSockets).length, 0, 'the connection was not kept for another request');
  });

  it('drops body framing from a 204, and answers an HTTP/1.0 client without chunks', async () => {
    // A backend that frames a 204 as chunked, as some do: the client must not be told to expect chunks.
    const rude: TcpServer = createTcpServer((socket: Socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n'));
    });
    const rudePort = await listen(rude);
    closers.push(() => rude.close());
    const first = await front(`http://127.0.0.1:${rudePort}`);
    const noContent = await raw(first.port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.match(noContent.text, /^HTTP\/1\.1 204/);
    assert.doesNotMatch(noContent.text, /transfer-encoding/i);

    const streaming = await nodeBackend((_req, res) => {
      res.write('part one, ');
      setTimeout(() => res.end('part two'), 20);
    });
    const second = await front(streaming.url);
    const old = await raw(second.port, 'GET / HTTP/1.0\r\nHost: a\r\n\r\n');
    assert.equal(old.closed, true);
    assert.doesNotMatch(old.text, /transfer-encoding/i);
    assert.match(old.text, /\r\n\r\npart one, part two$/);
  });

  it('relays an early answer and reads the rest of the upload instead of leaving it in the connection', async () => {
    const server = createServer((req, res) => {
      // Answers at the head, before the body has come, then lets the body go by.
      res.writeHead(413).end('too large');
      req.resume();
    });
    const backendPort = await listen(server);
    closers.push(() => {
      server.close();
      server.closeAllConnections();
    });
    const { port, failures } = await front(`http://127.0.0.1:${backendPort}`);
    const body = 'x'.repeat(256 * 1024);
    const { text, closed } = await raw(port, `POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`, 5000);
    assert.match(text, /^HTTP\/1\.1 413/);
    assert.match(text, /\r\ntoo large\r\n/);
    assert.equal(closed, true, 'the exchange ended instead of waiting for a body nobody reads');
    assert.equal(failures.length, 0);
  });

  it('cuts the answer when the backend ends it before it is complete, never passing it off as whole', async () => {
    const cutting: TcpServer = createTcpServer((socket: Socket) => {
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
        socket.write('x'.repeat(100));
        setTimeout(() => socket.destroy(), 20);
      });
    });
    const cuttingPort = await listen(cutting);
    closers.push(() => cutting.close());
    const { port } = await front(`http://127.0.0.1:${cuttingPort}`);
    const { text, closed } = await raw(port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(closed, true);
    assert.match(text, /^HTTP\/1\.1 200/);
    assert.equal(text.split('\r\n\r\n')[1]?.length, 100, 'only what the backend sent, then the connection closed');
  });

  it('ends the backend exchange when the client leaves in the middle of a download', async () => {
    let backendSocketClosed: Promise<unknown> = Promise.resolve();
    const endless = createServer((req, res) => {
      backendSocketClosed = once(req.socket, 'close');
      res.writeHead(200);
      const tick = setInterval(() => res.write('x'.repeat(1024)), 5);
      res.once('close', () => clearInterval(tick));
    });
    const endlessPort = await listen(endless);
    closers.push(() => {
      endless.close();
      endless.closeAllConnections();
    });
    const { port } = await front(`http://127.0.0.1:${endlessPort}`);
    const client = connect({ host: '127.0.0.1', port });
    client.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await once(client, 'data');
    client.destroy();
    await Promise.race([
      backendSocketClosed,
      new Promise((_resolve, reject) => setTimeout(() => reject(new Error('the backend connection stayed open')), 5000)),
    ]);
  });

  it('reports an unreachable backend to its caller, which answers', async () => {
    const probe = createTcpServer();
    const deadPort = await listen(probe);
    probe.close();
    await once(probe, 'close');
    const { port, failures } = await front(`http://127.0.0.1:${deadPort}`);
    const response = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(response.status, 502);
    const failure: NodeJS.ErrnoException | undefined = failures[0];
    assert.equal(failure?.code, 'ECONNREFUSED');
  });
});
