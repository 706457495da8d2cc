import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  connect as http2Connect,
  createServer as createHttp2Server,
  constants,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
} from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { connect as netConnect } from 'node:net';
import type { ResolvedApp } from '../../../src/connector/stream-server.ts';
import { WriteAhead } from '../../../src/connector/write-ahead.ts';
import {
  createTestPki,
  startConnectorSide,
  startOrigin,
  startServiceSide,
  type ConnectorSide,
  type Origin,
  type ServiceSide,
  type TestPki,
} from '../../support/tunnel-harness.ts';

interface Answer {
  readonly status: number;
  readonly error: string | undefined;
}

/** Sends one hand-made request on the raw session and resolves with the connector's answer. */
function ask(session: ClientHttp2Session, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: false });
    stream.once('response', (answer: IncomingHttpHeaders) => {
      resolve({ status: Number(answer[':status']), error: answer['gatehouse-error'] as string | undefined });
      stream.close(constants.NGHTTP2_CANCEL);
    });
    stream.once('error', reject);
  });
}

/** A CONNECT for an app, as the service sends it. */
function connectFor(appId: string, requestId?: string): Record<string, string> {
  return {
    ':method': 'CONNECT',
    ':authority': `${appId}.app.invalid:443`,
    'gatehouse-app': appId,
    ...(requestId ? { 'gatehouse-request-id': requestId } : {}),
  };
}

/** Opens an accepted stream and waits for its 200. */
async function openAccepted(session: ClientHttp2Session, appId: string): Promise<ClientHttp2Stream> {
  const stream = session.request(connectFor(appId), { endStream: false });
  const [answer] = (await once(stream, 'response')) as [IncomingHttpHeaders];
  assert.equal(answer[':status'], 200);
  return stream;
}

/**
 * A plain TCP app: it answers every line with "echo: <line>", and says
 * "bye" once the client half-closed, then closes its side too.
 */
async function startLineApp(): Promise<{ url: string; connections: number; ended: Promise<void>; closed: Promise<void>; close(): Promise<void> }> {
  let connections = 0;
  let onEnded: () => void = () => undefined;
  let onClosed: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (onEnded = resolve));
  const closed = new Promise<void>((resolve) => (onClosed = resolve));
  const sockets = new Set<Socket>();
  const server = createNetServer({ allowHalfOpen: true }, (socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.setEncoding('utf8');
    socket.on('data', (line: string) => socket.write(`echo: ${line}`));
    socket.once('end', () => {
      onEnded();
      socket.end('bye');
    });
    socket.once('close', () => {
      sockets.delete(socket);
      onClosed();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get connections() {
      return connections;
    },
    ended,
    closed,
    async close() {
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await done;
    },
  };
}

describe('TunnelServer (the connector end)', function () {
  this.timeout(30_000);
  let pki: TestPki;
  let service: ServiceSide;
  let origin: Origin;
  let lineApp: Awaited<ReturnType<typeof startLineApp>>;
  let connector: ConnectorSide;
  let raw: ClientHttp2Session;
  const resolved: string[] = [];

  before(async function () {
    pki = createTestPki();
    origin = await startOrigin({ name: 'app' });
    lineApp = await startLineApp();
    // The test plays a (compromised) service: it gets the verified tunnel socket and speaks HTTP/2 itself.
    let taken: (socket: TLSSocket) => void = () => undefined;
    const socketTaken = new Promise<TLSSocket>((resolve) => (taken = resolve));
    service = await startServiceSide({ pki, takeOver: (socket) => taken(socket) });
    const apps = new Map<string, ResolvedApp>([
      ['app', { internalUrl: origin.url }],
      ['lines', { internalUrl: lineApp.url }],
    ]);
    connector = await startConnectorSide({
      pki,
      service,
      connectorId: 'c-server',
      group: 'default',
      noWait: true,
      apps: (appId) => {
        resolved.push(appId);
        return apps.get(appId);
      },
    });
    const socket = await socketTaken;
    raw = http2Connect('http://service.invalid', { createConnection: () => socket });
    raw.on('error', () => undefined);
    await once(raw, 'connect');
  });

  after(async function () {
    raw?.destroy();
    await connector?.close();
    await service?.close();
    await origin?.close();
    await lineApp?.close();
  });

  describe('refuses anything but a CONNECT naming an app of its configuration (no SSRF)', function () {
    it('a CONNECT naming a host:port, with or without an app header', async function () {
      const before = origin.connections;
      const target = `127.0.0.1:${new URL(origin.url).port}`;
      const crafted: Array<Record<string, string>> = [
        { ':method': 'CONNECT', ':authority': target },
        { ':method': 'CONNECT', ':authority': target, 'gatehouse-app': 'app' },
        { ':method': 'CONNECT', ':authority': 'app.app.invalid:443', 'gatehouse-app': target },
        { ':method': 'CONNECT', ':authority': `${target}.app.invalid:443`, 'gatehouse-app': target },
      ];
      for (const headers of crafted) {
        assert.deepEqual(await ask(raw, headers), { status: 400, error: 'bad_target' }, JSON.stringify(headers));
      }
      assert.equal(origin.connections, before, 'no connection was opened to the named host');
      assert.deepEqual(
        resolved.filter((id) => id !== 'app' && id !== 'lines'),
        [],
        'only well-formed app ids reach the allow-list',
      );
      const logged = connector.logs.find(/does not name an app/);
      assert.equal(logged?.['authority'], target);
    });

    it('an ordinary request (not a CONNECT)', async function () {
      assert.deepEqual(await ask(raw, { ':method': 'GET', ':path': '/', ':authority': 'app.app.invalid:443', 'gatehouse-app': 'app' }), {
        status: 405,
        error: 'bad_method',
      });
    });

    it('an app that is not in its configuration, logged with the request id', async function () {
      assert.deepEqual(await ask(raw, connectFor('payroll', 'req-payroll-7')), { status: 403, error: 'unknown_app' });
      const logged = connector.logs.find(/outside this connector's configuration/);
      assert.equal(logged?.['app'], 'payroll');
      assert.equal(logged?.['requestId'], 'req-payroll-7');
      assert.equal(connector.servers[0]?.refusedStreams, 6);
    });

    it('names of Object.prototype are app ids like any other', async function () {
      assert.deepEqual(await ask(raw, connectFor('constructor')), { status: 403, error: 'unknown_app' });
    });
  });

  describe('accepted streams', function () {
    it('splices an accepted stream to the app, half-close included', async function () {
      const stream = await openAccepted(raw, 'lines');
      stream.setEncoding('utf8');
      stream.write('hello\n');
      const [echo] = (await once(stream, 'data')) as [string];
      assert.equal(echo, 'echo: hello\n');
      // END_STREAM reaches the app as a FIN; it still answers, then closes its side.
      stream.end();
      await lineApp.ended;
      let rest = '';
      for await (const chunk of stream) rest += chunk as string;
      assert.equal(rest, 'bye');
      await lineApp.closed;
      if (!stream.closed) await once(stream, 'close');
      assert.equal(stream.rstCode, constants.NGHTTP2_NO_ERROR);
      assert.equal(connector.servers[0]?.activeStreams, 0);
    });

    it('closes the app connection when the service resets the stream (client abort)', async function () {
      const stream = await openAccepted(raw, 'app');
      stream.write('GET /endless?tag=rst HTTP/1.1\r\nHost: app\r\n\r\n');
      await once(stream, 'data');
      stream.close(constants.NGHTTP2_CANCEL);
      assert.equal((await origin.closed('rst')).finished, false);
    });

    it('ends the stream with an origin_reset trailer when the app connection fails', async function () {
      const stream = await openAccepted(raw, 'app');
      const trailers = once(stream, 'trailers') as Promise<[IncomingHttpHeaders]>;
      stream.end('GET /reset HTTP/1.1\r\nHost: app\r\n\r\n');
      stream.resume();
      const [received] = await trailers;
      assert.equal(received['gatehouse-error'], 'origin_reset');
    });

    it('drain: GOAWAY, no new streams, the in-flight one finishes, then the tunnel closes', async function () {
      const server = connector.servers[0];
      assert.ok(server);
      const stream = await openAccepted(raw, 'app');
      stream.write('GET /gated?tag=drain&n=1000000 HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n');
      await origin.arrived('drain');
      const goaway = once(raw, 'goaway');
      const drained = server.drain(30_000);
      await goaway;
      assert.equal(server.draining, true);
      const refused = raw.request(connectFor('app'));
      assert.equal(((await once(refused, 'error')) as [NodeJS.ErrnoException])[0].code, 'ERR_HTTP2_GOAWAY_SESSION');
      origin.release('drain');
      let bytes = 0;
      for await (const chunk of stream) bytes += (chunk as Buffer).length;
      assert.ok(bytes > 1_000_000, 'the whole answer arrived');
      // The app closed its side (Connection: close); the service closes its own, as StreamSocket does.
      stream.end();
      assert.equal((await drained).reason, 'drained');
    });
  });
});

/** Two ends of one loopback TCP connection; `onAccept` also sees the accepted end (to hand it to a server). */
async function socketPair(onAccept?: (socket: Socket) => void): Promise<{ client: Socket; peer: Socket }> {
  const server = createNetServer(onAccept);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = netConnect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  const [peer] = await accepted;
  server.close();
  return { client, peer };
}

describe('WriteAhead (the connector end keeps reading while it writes)', function () {
  it('completes writes at once under its bound, waits for the transport above it, and relays reads', async function () {
    const { client, peer } = await socketPair();
    peer.pause();
    const ahead = new WriteAhead(client, 1024 * 1024);
    const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    // Under the bound: done at once, although the peer reads nothing.
    let small = false;
    ahead.write(Buffer.alloc(64 * 1024), () => (small = true));
    await tick();
    assert.equal(small, true);
    // Far above what kernel buffers hold: the write waits for the transport.
    let big = false;
    ahead.write(Buffer.alloc(64 * 1024 * 1024), () => (big = true));
    await tick();
    assert.equal(big, false);
    const drained = new Promise<void>((resolve) => ahead.write(Buffer.alloc(1), () => resolve()));
    peer.resume();
    await drained;
    assert.equal(big, true);
    // Reads pass through, and the transport's end closes it.
    peer.end('from the peer');
    const [chunk] = (await once(ahead, 'data')) as [Buffer];
    assert.equal(chunk.toString(), 'from the peer');
    ahead.resume();
    const closed = once(ahead, 'close');
    ahead.end();
    await closed;
    assert.equal(client.destroyed, true);
  });

  // Each case closes the open streams at a different moment after the peer's FIN: the same tick, the next one, a
  // microtask, the next turn, a millisecond later. Before, an EOF passed on to the session let Node shut its socket's
  // writing side while the session lived, and the RST_STREAM written next failed an internal assertion of Node's JS
  // stream socket, which killed the process (a gateway whose connector closed a tunnel with requests in flight).
  for (const when of ['same tick', 'next tick', 'microtask', 'immediate', 'timer'] as const) {
    it(`lets a session write after its peer ended the connection (streams closed at: ${when})`, async function () {
      const h2 = createHttp2Server();
      h2.on('stream', (stream) => {
        stream.respond({ ':status': 200 });
        stream.write('x');
      });
      const { client, peer } = await socketPair((socket) => h2.emit('connection', socket));
      const session = http2Connect('http://tunnel.invalid', { createConnection: () => new WriteAhead(client) });
      session.on('error', () => undefined);
      const streams = Array.from({ length: 3 }, () => session.request({ ':path': '/' }).on('error', () => undefined));
      await Promise.all(streams.map((stream) => once(stream, 'response')));
      const closeAll = (): void => {
        for (const stream of streams) if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
      };
      client.once('end', () => {
        if (when === 'same tick') closeAll();
        else if (when === 'next tick') process.nextTick(closeAll);
        else if (when === 'microtask') queueMicrotask(closeAll);
        else if (when === 'immediate') setImmediate(closeAll);
        else setTimeout(closeAll, 1);
      });
      const closed = once(session, 'close');
      peer.end();
      await closed;
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(client.destroyed, true);
      h2.close();
      peer.destroy();
    });
  }

  it('hands over what it buffered before the transport ended, then closes', async function () {
    const { client, peer } = await socketPair();
    const ahead = new WriteAhead(client, 1024 * 1024);
    ahead.pause();
    peer.end('last words');
    await once(client, 'end');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(ahead.destroyed, false, 'closed with a chunk still unread');
    let read = '';
    ahead.on('data', (chunk: Buffer) => (read += chunk.toString()));
    const closed = once(ahead, 'close');
    ahead.resume();
    await closed;
    assert.equal(read, 'last words');
  });
});
