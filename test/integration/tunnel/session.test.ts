import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { StreamSocket } from '../../../src/tunnel/stream-socket.ts';
import type { TunnelSession } from '../../../src/tunnel/tunnel-session.ts';
import {
  createTestPki,
  startConnectorSide,
  startOrigin,
  startRelay,
  startServiceSide,
  type ConnectorSide,
  type Origin,
  type ServiceSide,
  type TestPki,
} from '../../support/tunnel-harness.ts';

/** Writes an HTTP/1.1 request on a tunnel stream and resolves with everything read until the app closes. */
async function exchange(socket: Duplex, request: string): Promise<string> {
  socket.write(request);
  let text = '';
  for await (const chunk of socket) text += (chunk as Buffer).toString('latin1');
  return text;
}

/** A TCP server that accepts and then says nothing: a TLS handshake to it never completes. */
async function startSilentServer(): Promise<{ port: number; sockets: Set<Socket>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: NetServer = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    sockets,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** A free port: listened on, then closed. */
async function closedPort(): Promise<number> {
  const silent = await startSilentServer();
  await silent.close();
  return silent.port;
}

describe('TunnelSession', function () {
  this.timeout(30_000);
  let pki: TestPki;
  let internal: TestPki;
  let service: ServiceSide;
  let origin: Origin;
  let secureOrigin: Origin;
  let silent: Awaited<ReturnType<typeof startSilentServer>>;
  let connector: ConnectorSide;
  let session: TunnelSession;

  before(async function () {
    pki = createTestPki();
    internal = createTestPki('Internal test CA');
    service = await startServiceSide({ pki });
    origin = await startOrigin({ name: 'app' });
    secureOrigin = await startOrigin({ name: 'secure', tls: internal.server });
    silent = await startSilentServer();
    const refused = await closedPort();
    connector = await startConnectorSide({
      pki,
      service,
      connectorId: 'c-session',
      group: 'default',
      serverOptions: { originConnectTimeoutMs: 300 },
      apps: new Map([
        ['app', { internalUrl: origin.url }],
        ['secure', { internalUrl: secureOrigin.url, tls: { ca: internal.caPem } }],
        ['untrusted', { internalUrl: secureOrigin.url }],
        ['misnamed', { internalUrl: secureOrigin.url, tls: { ca: internal.caPem, servername: 'elsewhere.example' } }],
        ['refusing', { internalUrl: `http://127.0.0.1:${refused}` }],
        ['silent', { internalUrl: `https://127.0.0.1:${silent.port}` }],
      ]),
    });
    const first = connector.sessions[0];
    assert.ok(first);
    session = first;
  });

  after(async function () {
    await connector?.close();
    await service?.close();
    await origin?.close();
    await secureOrigin?.close();
    await silent?.close();
  });

  it('opens a CONNECT stream to an app and carries bytes both ways', async function () {
    const socket = await session.openStream('app', { requestId: 'req-1' });
    assert.ok(socket instanceof StreamSocket);
    assert.equal(socket.connectorId, 'c-session');
    assert.equal(socket.appId, 'app');
    assert.equal(socket.remoteAddress, '127.0.0.1', 'the tunnel peer');
    assert.equal(session.inFlight, 1);
    const closed = once(socket, 'close');
    const text = await exchange(socket, 'GET /hello HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 200 OK/);
    assert.match(text, /hello from app$/);
    assert.ok(socket.bytesWritten > 0 && socket.bytesRead === Buffer.byteLength(text, 'latin1'));
    await closed;
    assert.equal(socket.errored, null, 'a clean end');
  });

  it('reaches an https app through the connector, verifying it with the app CA', async function () {
    const socket = await session.openStream('secure');
    const text = await exchange(socket, 'GET /hello HTTP/1.1\r\nHost: secure\r\nConnection: close\r\n\r\n');
    assert.match(text, /hello from secure$/);
  });

  describe('refusals: coded, and all before any byte reached the app', function () {
    const cases: Array<[string, string, string]> = [
      ['an app outside the connector configuration', 'unknown', 'ERR_TUNNEL_UNKNOWN_APP'],
      ['an app that refuses connections', 'refusing', 'ERR_TUNNEL_ORIGIN_REFUSED'],
      ['an app that never completes its handshake', 'silent', 'ERR_TUNNEL_ORIGIN_TIMEOUT'],
      ['an https app whose CA the connector was not given', 'untrusted', 'ERR_TUNNEL_ORIGIN_TLS'],
      ['an https app whose certificate names another host', 'misnamed', 'ERR_TUNNEL_ORIGIN_TLS'],
    ];
    for (const [what, appId, code] of cases) {
      it(`${code} for ${what}`, async function () {
        await assert.rejects(session.openStream(appId), (error: Error & { code?: string; beforeUpstream?: boolean; connectorId?: string }) => {
          assert.equal(error.code, code);
          assert.equal(error.beforeUpstream, true);
          assert.equal(error.connectorId, 'c-session');
          return true;
        });
      });
    }

    it('rejects a malformed app id as a caller mistake', async function () {
      await assert.rejects(session.openStream('10.0.0.5:22'), TypeError);
    });

    it('leaves no stream open after refusals', async function () {
      await Promise.allSettled([session.openStream('unknown'), session.openStream('refusing')]);
      assert.equal(session.inFlight, 0);
    });
  });

  it('gives up when the connector does not answer in time', async function () {
    const slow = await startServiceSide({ pki, sessionOptions: { openTimeoutMs: 200 } });
    const stalled = await startConnectorSide({
      pki,
      service: slow,
      connectorId: 'c-stalled',
      group: 'default',
      apps: new Map([['app', { internalUrl: origin.url }]]),
      // The dial to the app never ends: the connector never answers the CONNECT.
      serverOptions: { connectOrigin: () => new Promise<Duplex>(() => undefined) },
    });
    try {
      await assert.rejects(stalled.sessions[0]?.openStream('app') ?? Promise.resolve(), {
        code: 'ERR_TUNNEL_ORIGIN_TIMEOUT',
        reason: 'connector_timeout',
        beforeUpstream: true,
      });
    } finally {
      await stalled.close();
      await slow.close();
    }
  });

  it('cancels an open in progress when its signal aborts, and the connector stops dialling', async function () {
    const controller = new AbortController();
    const opening = session.openStream('silent', { signal: controller.signal });
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    await assert.rejects(opening, { name: 'AbortError' });
    await assert.rejects(session.openStream('app', { signal: AbortSignal.abort() }), { name: 'AbortError' });
  });

  it('bounds the streams of a tunnel: its own limit, and the one the connector advertises', async function () {
    const limited = await startServiceSide({ pki, sessionOptions: { maxStreams: 2 } });
    const a = await startConnectorSide({
      pki,
      service: limited,
      connectorId: 'c-limit-a',
      group: 'default',
      apps: new Map([['app', { internalUrl: origin.url }]]),
    });
    const b = await startConnectorSide({
      pki,
      service: limited,
      connectorId: 'c-limit-b',
      group: 'other',
      apps: new Map([['app', { internalUrl: origin.url }]]),
      serverOptions: { maxStreams: 1 },
    });
    try {
      const own = a.sessions[0];
      const advertised = b.sessions[0];
      assert.ok(own && advertised);
      const held = [await own.openStream('app'), await own.openStream('app'), await advertised.openStream('app')];
      assert.equal(own.acceptsStreams, false);
      assert.equal(advertised.acceptsStreams, false);
      await assert.rejects(own.openStream('app'), { code: 'ERR_TUNNEL_STREAM_LIMIT', beforeUpstream: true });
      await assert.rejects(advertised.openStream('app'), { code: 'ERR_TUNNEL_STREAM_LIMIT', beforeUpstream: true });
      const closed = held.map((socket) => once(socket, 'close'));
      for (const socket of held) socket.destroy();
      await Promise.all(closed);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(own.acceptsStreams, true);
    } finally {
      await a.close();
      await b.close();
      await limited.close();
    }
  });

  it('declares a silent tunnel dead by its PING heartbeat, on both ends', async function () {
    const beating = await startServiceSide({ pki, sessionOptions: { pingIntervalMs: 50, pingTimeoutMs: 300 } });
    const relay = await startRelay(beating.port);
    const quiet = await startConnectorSide({
      pki,
      service: beating,
      connectorId: 'c-quiet',
      group: 'default',
      apps: new Map(),
      dialPort: relay.port,
      serverOptions: { pingIntervalMs: 50, pingTimeoutMs: 300 },
    });
    try {
      const tunnel = quiet.sessions[0];
      assert.ok(tunnel?.healthy);
      relay.freeze();
      const [info] = await Promise.all([quiet.servers[0]?.closed, tunnel.whenClosed()]);
      assert.equal(tunnel.unhealthyReason, 'heartbeat_timeout');
      assert.equal(info?.reason, 'heartbeat_timeout');
      assert.equal(beating.pool.size, 0, 'the dead tunnel left the pool');
    } finally {
      await quiet.close();
      await relay.close();
      await beating.close();
    }
  });

  it('close(): GOAWAY, idle streams go at once, busy ones are cut at the deadline', async function () {
    const closing = await startServiceSide({ pki });
    const side = await startConnectorSide({
      pki,
      service: closing,
      connectorId: 'c-closing',
      group: 'default',
      apps: new Map([['app', { internalUrl: origin.url }]]),
    });
    try {
      const tunnel = side.sessions[0];
      assert.ok(tunnel);
      const idle = await tunnel.openStream('app');
      idle.markIdle(true);
      const busy = await tunnel.openStream('app');
      busy.write('GET /endless?tag=close-deadline HTTP/1.1\r\nHost: app\r\n\r\n');
      await once(busy, 'data');
      busy.resume();
      const busyError = new Promise<unknown>((resolve) => busy.once('error', resolve));
      const idleClosed = once(idle, 'close');
      const closed = tunnel.close(300);
      assert.equal(tunnel.healthy, false);
      await idleClosed;
      assert.equal(busy.destroyed, false, 'the busy stream goes on until the deadline');
      await closed;
      assert.equal(((await busyError) as { code?: string }).code, 'ERR_TUNNEL_CLOSED');
      assert.equal((await origin.closed('close-deadline')).finished, false, 'the app saw the cut');
      assert.equal((await side.servers[0]?.closed)?.reason, 'closed_by_service');
    } finally {
      await side.close();
      await closing.close();
    }
  });

  it('destroy() with a notice tells the connector why it was cut', async function () {
    const refusing = await startServiceSide({ pki });
    const side = await startConnectorSide({ pki, service: refusing, connectorId: 'c-revoked', group: 'default', apps: new Map() });
    try {
      side.sessions[0]?.destroy({ code: 'ERR_CONNECTOR_REVOKED', reason: 'revoked' });
      const info = await side.servers[0]?.closed;
      assert.equal(info?.reason, 'refused');
      assert.deepEqual(info?.refusal, { code: 'ERR_CONNECTOR_REVOKED', reason: 'revoked' });
    } finally {
      await side.close();
      await refusing.close();
    }
  });

  describe('its streams, as sockets', function () {
    it('emit timeout after idleness, and setTimeout(0, callback) removes the callback', async function () {
      const socket = await session.openStream('app');
      const onTimeout = (): void => undefined;
      socket.setTimeout(50, onTimeout);
      assert.equal(socket.timeout, 50);
      assert.equal(socket.listenerCount('timeout'), 1);
      await once(socket, 'timeout');
      socket.setTimeout(0, onTimeout);
      assert.equal(socket.listenerCount('timeout'), 0);
      assert.equal(socket.timeout, 0);
      assert.equal(socket.setNoDelay(true), socket);
      assert.equal(socket.setKeepAlive(true, 1000), socket);
      assert.equal(socket.ref().unref(), socket);
      const closed = once(socket, 'close');
      socket.destroySoon();
      assert.equal(socket.writable, false);
      await closed;
    });

    it('are destroyed when bytes arrive while idle in a keep-alive pool (no response desync)', async function () {
      const socket = await session.openStream('app');
      // A pipelined second request whose answer arrives while the stream is idle.
      socket.write('GET /hello HTTP/1.1\r\nHost: app\r\n\r\n');
      await once(socket, 'data');
      socket.markIdle(true);
      socket.write('GET /hello HTTP/1.1\r\nHost: app\r\n\r\n');
      await once(socket, 'close');
      assert.equal(socket.destroyed, true);
    });

    it('reset their stream when destroyed, and the app sees its connection close', async function () {
      const socket = await session.openStream('app');
      socket.write('GET /endless?tag=socket-destroy HTTP/1.1\r\nHost: app\r\n\r\n');
      await once(socket, 'data');
      socket.destroy();
      assert.equal((await origin.closed('socket-destroy')).finished, false);
    });
  });
});
