import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { WebSocket, WebSocketServer } from 'ws';
import { dialTlsTunnel } from '../../../src/connector/dial-tls.ts';
import { dialTunnel } from '../../../src/connector/link-dialer.ts';
import { keepWebSocketAlive } from '../../../src/tunnel/transport-websocket.ts';
import { TUNNEL_ALPN } from '../../../src/protocol/tunnel-wire.ts';
import { createTestPki, startConnectorSide, startRelay, startServiceSide, type ServiceSide, type TestPki } from '../../support/tunnel-harness.ts';

interface CodedError {
  readonly code?: string;
  readonly reason?: string;
  readonly retryable?: boolean;
}

async function listen(server: { listen(port: number, host: string): unknown; address(): unknown } & NodeJS.EventEmitter): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

describe('tunnel transports and dialling', function () {
  this.timeout(30_000);
  let pki: TestPki;
  let foreign: TestPki;
  let service: ServiceSide;

  before(async function () {
    pki = createTestPki();
    foreign = createTestPki('Some other CA');
    service = await startServiceSide({ pki });
  });

  after(async function () {
    await service?.close();
  });

  describe('TLS with ALPN', function () {
    it('negotiates gatehouse-tunnel/1 with the client certificate', async function () {
      const socket = await dialTlsTunnel({ serviceUrl: service.url, identity: pki.identity('c-dial', 'default'), ca: pki.caPem });
      assert.equal(socket.alpnProtocol, TUNNEL_ALPN);
      assert.equal(socket.authorized, true);
      socket.destroy();
    });

    for (const [what, alpn] of [
      ['offers other protocols (TLS alert)', ['http/1.1']],
      ['ignores ALPN (chooses none)', undefined],
    ] as const) {
      it(`reports a server that does not speak the tunnel protocol and ${what}, retryably`, async function () {
        const sockets = new Set<TLSSocket>();
        const server = createTlsServer({ cert: pki.server.cert, key: pki.server.key, ...(alpn ? { ALPNProtocols: [...alpn] } : {}) }, (socket) =>
          sockets.add(socket),
        );
        server.on('tlsClientError', () => undefined);
        const port = await listen(server);
        try {
          await assert.rejects(
            dialTlsTunnel({ serviceUrl: `https://127.0.0.1:${port}`, identity: pki.identity('c-dial', 'default'), ca: pki.caPem }),
            (error: CodedError) => {
              assert.equal(error.code, 'ERR_SERVICE_TLS');
              assert.equal(error.reason, 'alpn');
              assert.equal(error.retryable, true);
              return true;
            },
          );
        } finally {
          for (const socket of sockets) socket.destroy();
          server.close();
        }
      });
    }

    it('refuses a service certificate it cannot verify', async function () {
      await assert.rejects(dialTlsTunnel({ serviceUrl: service.url, identity: pki.identity('c-dial', 'default') }), { code: 'ERR_SERVICE_UNTRUSTED' });
    });

    it('is told, through a GOAWAY, when the service refuses its certificate', async function () {
      const refusedBefore = service.refused;
      const stranger = await startConnectorSide({
        pki,
        service,
        connectorId: 'c-stranger',
        group: 'default',
        apps: new Map(),
        identity: foreign.identity('c-stranger', 'default'),
        noWait: true,
      });
      const info = await stranger.servers[0]?.closed;
      assert.equal(info?.reason, 'refused');
      assert.equal(info?.refusal?.code, 'ERR_CERT_REFUSED');
      assert.equal(service.refused, refusedBefore + 1);
    });

    it('gives up on a service that never completes the handshake, and stops when told to', async function () {
      const sockets = new Set<Socket>();
      const silent = createNetServer((socket) => sockets.add(socket));
      const port = await listen(silent);
      try {
        const options = { serviceUrl: `https://127.0.0.1:${port}`, identity: pki.identity('c-dial', 'default'), ca: pki.caPem };
        await assert.rejects(dialTunnel({ ...options, timeoutMs: 200 }), { code: 'ERR_SERVICE_TIMEOUT', retryable: true });
        await assert.rejects(dialTunnel({ ...options, transport: 'websocket', timeoutMs: 200 }), { code: 'ERR_SERVICE_TIMEOUT', retryable: true });
        const controller = new AbortController();
        const dialling = dialTunnel({ ...options, signal: controller.signal });
        controller.abort();
        await assert.rejects(dialling, { code: 'ERR_ABORTED', retryable: false });
      } finally {
        for (const socket of sockets) socket.destroy();
        silent.close();
      }
    });

    it('refuses a service URL that is not an https origin, as a caller mistake', async function () {
      await assert.rejects(dialTunnel({ serviceUrl: 'http://127.0.0.1:1', identity: pki.identity('c-dial', 'default') }), TypeError);
    });
  });

  describe('WebSocket fallback', function () {
    it('refuses a connector whose certificate the service does not know, not retryably', async function () {
      await assert.rejects(
        dialTunnel({ serviceUrl: service.url, transport: 'websocket', identity: foreign.identity('c-stranger', 'default'), ca: pki.caPem }),
        (error: CodedError) => {
          assert.equal(error.code, 'ERR_CERT_REFUSED');
          assert.equal(error.retryable, false);
          return true;
        },
      );
    });

    it('the service refuses an upgrade that does not offer the tunnel subprotocol', async function () {
      const identity = pki.identity('c-ws-plain', 'default');
      const ws = new WebSocket(`wss://127.0.0.1:${service.port}/.gatehouse/connector/tunnel`, { key: identity.keyPem, cert: identity.certPem, ca: pki.caPem });
      ws.on('error', () => undefined);
      const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
      assert.equal(res.statusCode, 400);
      res.destroy();
      ws.terminate();
    });

    it('returns a byte stream that is not the upgraded TLS socket', async function () {
      const stream = await dialTunnel({ serviceUrl: service.url, transport: 'websocket', identity: pki.identity('c-ws-stream', 'default'), ca: pki.caPem });
      assert.equal('encrypted' in stream, false, 'HTTP/2 never gets the raw upgraded socket (test/integration/tunnel/abort.test.ts)');
      await service.waitForTunnels('c-ws-stream', 1);
      stream.destroy();
    });

    it('terminates a peer that stops answering pings', async function () {
      const http = createHttpServer();
      const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
      const port = await listen(http);
      const relay = await startRelay(port);
      const serverSide = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
      const client = new WebSocket(`ws://127.0.0.1:${relay.port}/`);
      client.on('error', () => undefined);
      try {
        await once(client, 'open');
        const ws = await serverSide;
        keepWebSocketAlive(ws, 50);
        // A few answered pings first.
        await once(ws, 'pong');
        await once(ws, 'pong');
        relay.freeze();
        await once(ws, 'close');
        assert.equal(ws.readyState, WebSocket.CLOSED);
      } finally {
        client.terminate();
        await relay.close();
        wss.close();
        http.close();
      }
    });
  });
});
