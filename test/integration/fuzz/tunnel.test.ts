import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import fc from 'fast-check';
import { TUNNEL_ALPN } from '../../../src/protocol/tunnel-wire.ts';
import {
  createTestPki,
  fetchBuffer,
  startConnectorSide,
  startGateway,
  startOrigin,
  startServiceSide,
  type ConnectorSide,
  type GatewaySide,
  type Origin,
  type ServiceSide,
  type TestPki,
} from '../../support/tunnel-harness.ts';
import { fuzzTimeout, runs } from '../../support/fuzz-runs.ts';
import { CLIENT_PREFACE, FLAG, FRAME, frame, headerBlock, ping, settings, windowUpdate } from './h2-frames.ts';
import { eventually, exchange, openSockets } from './raw-exchange.ts';

/**
 * An established tunnel is HTTP/2 over TLS between two processes that each trust the other only as far as the
 * protocol goes: a connector (with a valid certificate) may send anything to the service, and the service anything
 * to a connector. Random bytes and mutated valid frames, in both directions: the receiving side closes that tunnel
 * (GOAWAY, or the connection closed) within a bound and never crashes; afterwards a request through a healthy tunnel
 * still works and no session, stream or socket is left behind.
 */

/** A frame of any type, flags and stream, with a short random payload. */
const RANDOM_FRAME = fc
  .record({
    type: fc.nat(12),
    flags: fc.nat(255),
    stream: fc.oneof(fc.constant(0), fc.constant(1), fc.constant(2), fc.nat(0x7fffffff)),
    payload: fc.uint8Array({ maxLength: 64 }),
  })
  .map(({ type, flags, stream, payload }) => frame(type, flags, stream, payload));

type Mutation =
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array };
const MUTATION: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.nat(255) }) },
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
);

function mutate(bytes: Buffer, mutations: readonly Mutation[], keep: number): Buffer {
  // The first `keep` bytes (a preface) stay, so the mutations reach the frames behind them.
  let out = bytes.subarray(keep);
  for (const mutation of mutations) {
    const at = mutation.at % Math.max(1, out.length);
    if (mutation.kind === 'set') {
      out = Buffer.from(out);
      out[at] = mutation.byte;
    } else if (mutation.kind === 'delete') out = Buffer.concat([out.subarray(0, at), out.subarray(at + mutation.length)]);
    else if (mutation.kind === 'truncate') out = out.subarray(0, at);
    else out = Buffer.concat([out.subarray(0, at), mutation.bytes, out.subarray(at)]);
  }
  return Buffer.concat([bytes.subarray(0, keep), out]);
}

/** What a connector says on a tunnel, and worse: answers to streams never opened, pushes, resets, a GOAWAY. */
const CONNECTOR_WORDS = Buffer.concat([
  settings([[3, 100]]),
  settings([], true),
  ping(),
  windowUpdate(0, 65_535),
  frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, headerBlock([[':status', '200']])),
  frame(FRAME.DATA, FLAG.END_STREAM, 1, Buffer.from('hello')),
  frame(FRAME.RST_STREAM, 0, 3, Buffer.from([0, 0, 0, 8])),
  frame(FRAME.PUSH_PROMISE, FLAG.END_HEADERS, 1, Buffer.concat([Buffer.from([0, 0, 0, 2]), headerBlock([[':method', 'GET']])])),
  frame(FRAME.GOAWAY, 0, 0, Buffer.from([0, 0, 0, 0, 0, 0, 0, 1])),
]);

/** What a service says on a tunnel: the preface, settings, and a CONNECT stream for an app, then more. */
const SERVICE_WORDS = Buffer.concat([
  CLIENT_PREFACE,
  settings([[2, 0]]),
  settings([], true),
  frame(
    FRAME.HEADERS,
    FLAG.END_HEADERS,
    1,
    headerBlock([
      [':method', 'CONNECT'],
      [':authority', 'wiki.app.invalid:443'],
      ['gatehouse-app', 'wiki'],
      ['gatehouse-request-id', 'fuzz-1'],
    ]),
  ),
  frame(FRAME.DATA, 0, 1, Buffer.from('GET /hello HTTP/1.1\r\nHost: wiki\r\n\r\n')),
  windowUpdate(1, 1024),
  frame(
    FRAME.HEADERS,
    FLAG.END_HEADERS | FLAG.END_STREAM,
    3,
    headerBlock([
      [':method', 'GET'],
      [':path', '/'],
    ]),
  ),
  frame(FRAME.RST_STREAM, 0, 1, Buffer.from([0, 0, 0, 8])),
]);

const withTimeout = <T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> =>
  Promise.race([promise, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms).unref())]);

describe('fuzz: an established tunnel (real TLS, real HTTP/2 sessions)', function () {
  this.timeout(fuzzTimeout(120_000));
  let pki: TestPki;
  let service: ServiceSide;
  let origin: Origin;
  let connector: ConnectorSide;
  let gateway: GatewaySide;
  let fakeService: TlsServer;
  let fakeServicePort: number;
  let nextPayload: Buffer = Buffer.alloc(0);
  /** Whether the fake service has closed its side of the current case's tunnel. */
  let serviceEnded = false;
  let baseline: number;
  let baselineStreams: number;

  before(async function () {
    this.timeout(120_000);
    pki = createTestPki();
    service = await startServiceSide({ pki });
    origin = await startOrigin({ name: 'wiki' });
    connector = await startConnectorSide({ pki, service, connectorId: 'c-main', group: 'default', apps: new Map([['wiki', { internalUrl: origin.url }]]) });
    gateway = await startGateway(service.pool, [{ id: 'wiki', connectorGroup: 'default' }]);
    // A service that says whatever the case says, then nothing more.
    fakeService = createTlsServer({ cert: pki.server.cert, key: pki.server.key, ca: [pki.caPem], requestCert: true, ALPNProtocols: [TUNNEL_ALPN] });
    fakeService.on('secureConnection', (socket: TLSSocket) => {
      socket.on('error', () => undefined);
      // Read (and drop) what the connector says, so its close is seen.
      socket.resume();
      socket.write(nextPayload);
      setTimeout(() => {
        serviceEnded = true;
        socket.end();
      }, 300).unref();
      setTimeout(() => socket.destroy(), 15_000).unref();
    });
    fakeService.on('tlsClientError', () => undefined);
    fakeService.listen(0, '127.0.0.1');
    await once(fakeService, 'listening');
    fakeServicePort = (fakeService.address() as AddressInfo).port;
    const warm = await fetchBuffer(`${gateway.url}/wiki/hello`);
    assert.equal(warm.status, 200);
    baseline = openSockets();
    // The warm-up's stream may stay open for reuse (keep-alive through the tunnel): that one is not a leak.
    baselineStreams = connector.servers.reduce((sum, server) => sum + server.activeStreams, 0);
  });

  after(async function () {
    await gateway?.close();
    await connector?.close();
    await service?.close();
    await origin?.close();
    if (fakeService) await new Promise<void>((resolve) => fakeService.close(() => resolve()));
  });

  it('junk from a connector closes that tunnel at the service, within a bound', async () => {
    const identity = pki.identity('c-fuzz', 'default');
    const serverSettings = settings();
    const payload = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 400 }).map((bytes) => Buffer.from(bytes)),
      fc.array(RANDOM_FRAME, { minLength: 1, maxLength: 6 }).map((frames) => Buffer.concat([serverSettings, ...frames])),
      fc.array(MUTATION, { minLength: 1, maxLength: 4 }).map((mutations) => mutate(CONNECTOR_WORDS, mutations, serverSettings.length)),
    );
    await fc.assert(
      fc.asyncProperty(payload, async (bytes) => {
        const result = await exchange({ port: service.port, ca: pki.caPem, alpn: [TUNNEL_ALPN], cert: identity.certPem, key: identity.keyPem, payload: bytes });
        assert.ok(!result.handshakeFailed, 'the TLS handshake failed');
        assert.ok(result.closed, 'the service kept a junk tunnel open past the bound');
        // A whole frame header that is not SETTINGS is a protocol error: refused at once, not when the connector hangs up.
        if (bytes.length >= 9 && bytes[3] !== FRAME.SETTINGS) assert.ok(result.closedByPeerFirst, 'the service waited for the connector to close');
      }),
      runs(20),
    );
    const fuzzed = service.sessions.filter((session) => session.connectorId === 'c-fuzz');
    assert.ok(fuzzed.length > 0);
    for (const session of fuzzed) assert.notEqual(await withTimeout(session.whenClosed(), 10_000), 'timeout', 'a fuzzed session never closed');
  });

  it('junk from a service closes that tunnel at the connector, within a bound', async () => {
    const payload = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 400 }).map((bytes) => Buffer.from(bytes)),
      fc.array(RANDOM_FRAME, { minLength: 1, maxLength: 6 }).map((frames) => Buffer.concat([CLIENT_PREFACE, settings(), ...frames])),
      fc.array(MUTATION, { minLength: 1, maxLength: 4 }).map((mutations) => mutate(SERVICE_WORDS, mutations, CLIENT_PREFACE.length)),
    );
    await fc.assert(
      fc.asyncProperty(payload, async (bytes) => {
        nextPayload = bytes;
        serviceEnded = false;
        const side = await startConnectorSide({
          pki,
          service,
          connectorId: 'c-main',
          group: 'default',
          dialPort: fakeServicePort,
          noWait: true,
          apps: new Map([['wiki', { internalUrl: origin.url }]]),
        });
        try {
          const server = side.servers[0]!;
          assert.notEqual(await withTimeout(server.closed, 10_000), 'timeout', 'the connector kept a junk tunnel open past the bound');
          // A whole preface that is not the client preface is not HTTP/2: the connector refuses it at once, not when the service hangs up.
          if (bytes.length >= CLIENT_PREFACE.length && !bytes.subarray(0, CLIENT_PREFACE.length).equals(CLIENT_PREFACE))
            assert.ok(!serviceEnded, 'the connector waited for the service to close');
          assert.equal(server.activeStreams, 0);
        } finally {
          await side.close();
        }
      }),
      runs(20),
    );
  });

  it('afterwards a request through the healthy tunnel works, and nothing is left behind', async () => {
    const response = await fetchBuffer(`${gateway.url}/wiki/hello`);
    assert.equal(response.status, 200);
    assert.equal(response.body.toString(), 'hello from wiki');
    const main = service.sessions.filter((session) => session.connectorId === 'c-main');
    assert.ok(main.some((session) => session.healthy));
    await eventually(
      () => service.pool.sessions().every((session) => session.connectorId === 'c-main') && main.every((session) => session.inFlight === 0),
      20_000,
      () =>
        `sessions in the pool: ${service.pool
          .sessions()
          .map((session) => `${session.connectorId}:${session.inFlight}`)
          .join(', ')}`,
    );
    await eventually(
      () => connector.servers.reduce((sum, server) => sum + server.activeStreams, 0) <= baselineStreams,
      20_000,
      () => `streams open at the connector: ${connector.servers.map((server) => server.activeStreams).join(', ')}, before the fuzz: ${baselineStreams}`,
    );
    await eventually(
      () => openSockets() <= baseline,
      20_000,
      () => `sockets open: ${openSockets()}, before the fuzz: ${baseline}`,
    );
  });
});
