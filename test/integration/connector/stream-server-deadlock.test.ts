/**
 * The tunnel deadlock, end by end: Node's HTTP/2 session stops reading its
 * socket while one of its own socket writes is pending, and a write stays
 * pending while the peer reads nothing and the kernel buffers between them
 * are full. If both ends of a tunnel do that at once, neither reads again
 * (docs/design-notes.md). The connector's end must therefore keep reading
 * while the service reads nothing: this test plays a service that stops
 * reading (as Node's own session does while its write is pending), lets the
 * connector fill the way to it with downloads, then uploads and checks that
 * the upload still reaches the app.
 *
 * What it needs to catch a regression: the service's connection window
 * (16 MiB) above what the kernel buffers hold between the two ends, a few
 * MiB on loopback with Linux's default limits (tcp_wmem and tcp_rmem maxima
 * of 4 and 6 MiB). With much larger buffers it passes either way.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as http2Connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { tunnelSettings, widenConnectionWindow } from '../../../src/tunnel/http2-settings.ts';
import {
  createTestPki,
  patternStream,
  startConnectorSide,
  startOrigin,
  startServiceSide,
  type ConnectorSide,
  type Origin,
  type ServiceSide,
} from '../../support/tunnel-harness.ts';

const MiB = 1024 * 1024;

/** The service's transport, with a switch that stops reading it while writes go on. */
class ReadSwitch extends Duplex {
  readonly #inner: Duplex;
  #held = false;

  constructor(inner: Duplex) {
    super();
    this.#inner = inner;
    inner.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) inner.pause();
    });
    inner.once('end', () => this.push(null));
    inner.once('error', (error: Error) => this.destroy(error));
    inner.once('close', () => this.destroy());
  }

  hold(): void {
    this.#held = true;
    this.#inner.pause();
  }

  override _read(): void {
    if (!this.#held) this.#inner.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#inner.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#inner.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#inner.destroy();
    callback(error);
  }
}

/** An app that answers any connection with bytes until it is closed, and counts what its socket took. */
async function startEndlessApp(): Promise<{ url: string; sent(): number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let sent = 0;
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
    const pump = (): void => {
      while (!socket.destroyed && socket.write(chunk, () => (sent += chunk.length)));
    };
    socket.on('drain', pump);
    pump();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sent: () => sent,
    async close() {
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await done;
    },
  };
}

async function openAccepted(session: ClientHttp2Session, appId: string): Promise<ClientHttp2Stream> {
  const stream = session.request({ ':method': 'CONNECT', ':authority': `${appId}.app.invalid:443`, 'gatehouse-app': appId }, { endStream: false });
  const [answer] = (await once(stream, 'response')) as [IncomingHttpHeaders];
  assert.equal(answer[':status'], 200);
  return stream;
}

/** Resolves once `count()` stopped growing for `quietMs` (or reached `enough`). */
async function settled(count: () => number, quietMs: number, enough: number): Promise<void> {
  let last = -1;
  while (count() !== last && count() < enough) {
    last = count();
    await new Promise((resolve) => setTimeout(resolve, quietMs));
  }
}

describe('TunnelServer keeps reading while the service reads nothing (the tunnel deadlock)', function () {
  this.timeout(90_000);
  let service: ServiceSide;
  let connector: ConnectorSide;
  let origin: Origin;
  let endless: Awaited<ReturnType<typeof startEndlessApp>>;
  let raw: ClientHttp2Session;
  let transport: ReadSwitch;

  before(async function () {
    const pki = createTestPki();
    origin = await startOrigin({ name: 'app' });
    endless = await startEndlessApp();
    let taken: (socket: TLSSocket) => void = () => undefined;
    const socketTaken = new Promise<TLSSocket>((resolve) => (taken = resolve));
    service = await startServiceSide({ pki, takeOver: (socket) => taken(socket) });
    connector = await startConnectorSide({
      pki,
      service,
      connectorId: 'c-deadlock',
      group: 'default',
      noWait: true,
      // The service reads nothing for a while on purpose: no heartbeat may end the tunnel meanwhile. It is a service
      // that does not keep reading while it writes, so the connector must (its write-ahead stream).
      serverOptions: { pingIntervalMs: 600_000, sessionOnSocket: false },
      apps: new Map([
        ['app', { internalUrl: origin.url }],
        ['endless', { internalUrl: endless.url }],
      ]),
    });
    transport = new ReadSwitch(await socketTaken);
    // The service's own windows, as TunnelSession opens them.
    raw = http2Connect('http://service.invalid', { createConnection: () => transport, settings: tunnelSettings(100) });
    raw.on('error', () => undefined);
    await once(raw, 'connect');
    widenConnectionWindow(raw);
  });

  after(async function () {
    raw?.destroy();
    await connector?.close();
    await service?.close();
    await origin?.close();
    await endless?.close();
  });

  it('an upload reaches the app while the connector cannot write to the service', async function () {
    const downloads = [await openAccepted(raw, 'endless'), await openAccepted(raw, 'endless')];
    const upload = await openAccepted(raw, 'app');
    transport.hold();
    // The connector fills the way to the service up to the service's window:
    // with kernel buffers smaller than that, its writes now wait for the service.
    for (const stream of downloads) stream.write('GET / HTTP/1.1\r\nHost: endless\r\n\r\n');
    await settled(() => endless.sent(), 1_000, 256 * MiB);
    const size = 6 * MiB;
    upload.write(`POST /sha?tag=up HTTP/1.1\r\nHost: app\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`);
    patternStream(size).pipe(upload, { end: false });
    const done = origin.closed('up');
    const stuck = new Promise<'stuck'>((resolve) => setTimeout(() => resolve('stuck'), 60_000).unref());
    const outcome = await Promise.race([done.then(({ finished }) => (finished ? 'done' : 'cut')), stuck]);
    assert.equal(outcome, 'done', 'the upload did not reach the app: the connector stopped reading while its writes waited for the service');
    for (const stream of [...downloads, upload]) stream.close(constants.NGHTTP2_CANCEL);
  });
});
