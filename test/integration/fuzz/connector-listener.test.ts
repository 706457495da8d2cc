import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createKeyAndCsr } from '../../../src/pki/csr.ts';
import { ADMIN_CONNECTORS_PATH, CONFIG_PATH, REGISTER_PATH, REGISTRATION_INFO_PATH } from '../../../src/protocol/connector-api.ts';
import { TUNNEL_ALPN, TUNNEL_WEBSOCKET_PATH, TUNNEL_WEBSOCKET_PROTOCOL } from '../../../src/protocol/tunnel-wire.ts';
import { startConnectorService, type ConnectorServiceHarness } from '../../support/connector-service.ts';
import { callService } from '../../support/mtls-client.ts';
import { dialListenerTunnels } from '../../support/tunnel-harness.ts';
import { fuzzTimeout, runs } from '../../support/fuzz-runs.ts';
import { eventually, exchange, firstStatus, openSockets, statuses } from './raw-exchange.ts';

/**
 * The real connector listener (TLS, client certificates asked for on every connection) takes bytes from anyone who
 * can reach its port. Random bytes, truncated, oversized and mutated registration and admin calls, and junk on a
 * tunnel connection from a registered connector: the process never crashes, every case ends within its bound with
 * a 4xx or a closed connection (never a 5xx), and afterwards a normal registration and a normal tunnel still work
 * and no socket is left open.
 */

type Mutation =
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'pad-header'; size: number }
  | { kind: 'lie-length'; extra: number }
  | { kind: 'smuggle' }
  | { kind: 'pipeline' };

const MUTATION: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.nat(255) }) },
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 32 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('pad-header' as const), size: fc.constantFrom(100, 8_000, 17_000, 70_000) }),
  fc.record({ kind: fc.constant('lie-length' as const), extra: fc.integer({ min: 1, max: 10_000_000 }) }),
  fc.record({ kind: fc.constant('smuggle' as const) }),
  fc.record({ kind: fc.constant('pipeline' as const) }),
);

function mutate(request: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = request;
  for (const mutation of mutations) {
    const at = 'at' in mutation ? mutation.at % Math.max(1, out.length) : 0;
    const headEnd = Math.max(0, out.indexOf('\r\n'));
    switch (mutation.kind) {
      case 'set':
        out = Buffer.from(out);
        out[at] = mutation.byte;
        break;
      case 'insert':
        out = Buffer.concat([out.subarray(0, at), mutation.bytes, out.subarray(at)]);
        break;
      case 'delete':
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + mutation.length)]);
        break;
      case 'truncate':
        out = out.subarray(0, at);
        break;
      case 'pad-header':
        out = Buffer.concat([out.subarray(0, headEnd + 2), Buffer.from(`X-Pad: ${'a'.repeat(mutation.size)}\r\n`), out.subarray(headEnd + 2)]);
        break;
      case 'lie-length':
        out = Buffer.from(
          out.toString('latin1').replace(/content-length: (\d+)/i, (_, n: string) => `content-length: ${Number(n) + mutation.extra}`),
          'latin1',
        );
        break;
      case 'smuggle':
        out = Buffer.concat([out.subarray(0, headEnd + 2), Buffer.from('Transfer-Encoding: chunked\r\n'), out.subarray(headEnd + 2)]);
        break;
      case 'pipeline':
        out = Buffer.concat([out, out]);
        break;
    }
  }
  return out;
}

function httpRequest(method: string, path: string, headers: Record<string, string>, body?: string): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
  if (body !== undefined) lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body ?? ''}`);
}

describe('fuzz: the connector listener (real listener, real TLS)', function () {
  this.timeout(fuzzTimeout(120_000));
  let harness: ConnectorServiceHarness;
  let port: number;
  let token: string;
  let bases: Buffer[];
  let identity: { keyPem: string; certPem: string };
  let baseline: number;
  let source = 1;

  /** A fresh loopback source address per case: the per-address rate limits stay out of the way of the parser. */
  const nextSource = (): string => {
    source = (source % 60_000) + 1;
    return `127.1.${source >> 8}.${source & 255 || 1}`;
  };

  before(async function () {
    this.timeout(120_000);
    harness = await startConnectorService();
    port = Number(new URL(harness.serviceUrl).port);
    token = await harness.adminToken('alice');
    const csr = createKeyAndCsr({ keyType: 'ec' });
    const registered = await callService(harness.serviceUrl, harness.service.ca.certPem, {
      path: REGISTER_PATH,
      headers: { authorization: `Bearer ${token}` },
      body: { csr: csr.csrPem, group: 'default', name: 'fuzz-identity' },
    });
    assert.equal(registered.status, 201, registered.body);
    identity = { keyPem: csr.keyPem, certPem: registered.json<{ certificate: string }>().certificate };
    const auth = { Authorization: `Bearer ${token}` };
    bases = [
      httpRequest('POST', REGISTER_PATH, auth, JSON.stringify({ csr: createKeyAndCsr({ keyType: 'ec' }).csrPem, group: 'default', name: 'fuzz' })),
      httpRequest('GET', ADMIN_CONNECTORS_PATH, auth),
      httpRequest('POST', `${ADMIN_CONNECTORS_PATH}/c-0000/group`, auth, JSON.stringify({ group: 'hr' })),
      httpRequest('POST', `${ADMIN_CONNECTORS_PATH}/c-0000/revoke`, auth, '{}'),
      httpRequest('GET', REGISTRATION_INFO_PATH, {}),
      httpRequest('GET', CONFIG_PATH, {}),
    ];
    baseline = openSockets();
  });

  after(async function () {
    await harness?.close();
  });

  it('random bytes and mutated registration and admin calls get a 4xx or a closed connection, within a bound', async () => {
    const seen = new Map<string, number>();
    const payload = fc.oneof(
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2_000 }).map((bytes) => ({ label: 'random', bytes: Buffer.from(bytes) })) },
      {
        weight: 4,
        arbitrary: fc
          .tuple(fc.nat(), fc.array(MUTATION, { minLength: 1, maxLength: 3 }))
          .map(([pick, mutations]) => ({ label: mutations.map((m) => m.kind).join('+'), bytes: mutate(bases[pick % bases.length]!, mutations) })),
      },
    );
    await fc.assert(
      fc.asyncProperty(payload, fc.boolean(), async ({ label, bytes }, withCertificate) => {
        const result = await exchange({
          port,
          ca: harness.service.ca.certPem,
          alpn: ['http/1.1'],
          payload: bytes,
          localAddress: nextSource(),
          ...(withCertificate ? { cert: identity.certPem, key: identity.keyPem } : {}),
        });
        assert.ok(result.closed, `${label}: the listener kept the connection open past the bound`);
        for (const status of statuses(result.received)) assert.ok(status < 500, `${label}: answered ${status}`);
        const first = firstStatus(result.received);
        const outcome = first === undefined ? 'closed' : String(first);
        seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
      }),
      runs(30),
    );
    // The cases reached the routes, not only the parser: some were answered.
    assert.ok(
      [...seen.keys()].some((key) => key !== 'closed'),
      JSON.stringify([...seen]),
    );
  });

  it('junk on a tunnel connection from a registered connector closes that connection, within a bound', async () => {
    const preface = fc.constantFrom(
      Buffer.alloc(0),
      // A server SETTINGS frame: the connector's first words on a tunnel.
      Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
    );
    await fc.assert(
      fc.asyncProperty(preface, fc.uint8Array({ minLength: 1, maxLength: 600 }), async (start, junk) => {
        const result = await exchange({
          port,
          ca: harness.service.ca.certPem,
          alpn: [TUNNEL_ALPN],
          cert: identity.certPem,
          key: identity.keyPem,
          payload: Buffer.concat([start, junk]),
          localAddress: nextSource(),
        });
        assert.ok(result.closed, 'the listener kept a junk tunnel open past the bound');
        const bytes = Buffer.concat([start, junk]);
        // A whole frame header that is not SETTINGS is a protocol error: refused at once, not when the connector hangs up.
        if (bytes.length >= 9 && bytes[3] !== 4) assert.ok(result.closedByPeerFirst, 'the listener waited for the connector to close');
      }),
      runs(15),
    );
  });

  it('junk on a WebSocket tunnel (the fallback transport) closes that connection, within a bound', async () => {
    const handshake = Buffer.from(
      [
        `GET ${TUNNEL_WEBSOCKET_PATH} HTTP/1.1`,
        'Host: 127.0.0.1',
        'Connection: Upgrade',
        'Upgrade: websocket',
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        `Sec-WebSocket-Protocol: ${TUNNEL_WEBSOCKET_PROTOCOL}`,
        '',
        '',
      ].join('\r\n'),
    );
    /** A masked client frame (RFC 6455 §5.2) of any opcode, carrying `payload`. */
    const wsFrame = (opcode: number, payload: Uint8Array): Buffer => {
      const mask = Buffer.from([1, 2, 3, 4]);
      const length = payload.length < 126 ? Buffer.from([0x80 | payload.length]) : Buffer.from([0x80 | 126, payload.length >> 8, payload.length & 255]);
      return Buffer.concat([Buffer.from([0x80 | (opcode & 0x0f)]), length, mask, Buffer.from(payload.map((byte, index) => byte ^ (mask[index % 4] ?? 0)))]);
    };
    const after = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
      fc
        .array(fc.tuple(fc.nat(15), fc.uint8Array({ maxLength: 200 })), { minLength: 1, maxLength: 4 })
        .map((frames) => Buffer.concat(frames.map(([op, bytes]) => wsFrame(op, bytes)))),
    );
    await fc.assert(
      fc.asyncProperty(after, fc.array(MUTATION, { maxLength: 2 }), async (junk, mutations) => {
        const result = await exchange({
          port,
          ca: harness.service.ca.certPem,
          alpn: ['http/1.1'],
          cert: identity.certPem,
          key: identity.keyPem,
          payload: Buffer.concat([mutate(handshake, mutations), junk]),
          localAddress: nextSource(),
        });
        assert.ok(result.closed, 'the listener kept a junk WebSocket tunnel open past the bound');
        for (const status of statuses(result.received)) assert.ok(status < 500 && status !== 200, `answered ${status}`);
      }),
      runs(15),
    );
  });

  it('afterwards a normal registration and a normal tunnel still work, and no socket is left open', async () => {
    const csr = createKeyAndCsr({ keyType: 'ec' });
    const registered = await callService(harness.serviceUrl, harness.service.ca.certPem, {
      path: REGISTER_PATH,
      headers: { authorization: `Bearer ${token}` },
      body: { csr: csr.csrPem, group: 'default', name: 'after-fuzz' },
    });
    assert.equal(registered.status, 201, registered.body);
    const issued = registered.json<{ connectorId: string; certificate: string }>();
    const tunnels = await dialListenerTunnels({
      serviceUrl: harness.serviceUrl,
      caPem: harness.service.ca.certPem,
      identity: { keyPem: csr.keyPem, certPem: issued.certificate },
      transports: ['tls'],
    });
    try {
      await eventually(
        () => harness.service.tunnels.sessions().some((session) => session.connectorId === issued.connectorId && session.healthy),
        20_000,
        () => 'the tunnel dialled after the fuzz was never ready',
      );
    } finally {
      await tunnels.close();
    }
    await eventually(
      () => harness.service.tunnels.sessions().length === 0,
      20_000,
      () => `tunnel sessions left: ${harness.service.tunnels.sessions().length}`,
    );
    await eventually(
      () => openSockets() <= baseline,
      20_000,
      () => `sockets open: ${openSockets()}, before the fuzz: ${baseline}`,
    );
  });
});
