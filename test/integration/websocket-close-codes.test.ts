import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import type { GatewayConfigInput } from '../../src/config/schema.ts';
import type { RunningConnector } from '../../dev/lib/connector-process.ts';
import { startConnectorStack, type ConnectorStack } from '../support/connector-stack.ts';
import { toLoopback } from '../support/loopback.ts';
import { startStack, type Stack } from '../support/stack.ts';

/** A WebSocket backend that says hello, echoes, and can die under its open sockets. */
interface FragileBackend {
  readonly url: string;
  /** Drops every open WebSocket's connection without a close frame, as a backend that crashed. */
  die(): void;
  close(): Promise<void>;
}

async function startFragileBackend(): Promise<FragileBackend> {
  const server: Server = createServer((_req, res) => res.end('ok'));
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => {
    ws.send('hello');
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    die: () => {
      for (const client of wss.clients) client.terminate();
    },
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Closed {
  readonly code: number;
  readonly reason: string;
}

/**
 * A WebSocket whose backend, connector or tunnel goes away is closed with a
 * close frame that says so (1011 for a failure, 1001 for a shutdown on
 * purpose), not cut: a browser reports a bare TCP close as 1006 and no reason.
 */
describe('WebSocket close codes when the far side goes away', function () {
  this.timeout(120_000);
  let backend: FragileBackend;
  const sockets: WebSocket[] = [];

  before(async () => {
    backend = await startFragileBackend();
  });
  after(async () => {
    for (const socket of sockets) socket.terminate();
    await backend.close();
  });

  /** The stack's `dead` app, pointed at the fragile backend. */
  const fragileApp = (config: GatewayConfigInput): GatewayConfigInput => ({
    ...config,
    apps: config.apps.map((app) => (app.id === 'dead' ? { ...app, internalUrl: backend.url } : app)),
  });

  /** An open WebSocket through the gateway to the fragile backend (its hello arrived, an echo came back). */
  async function openSocket(stack: Stack): Promise<{ socket: WebSocket; closed: Promise<Closed> }> {
    const socket = new WebSocket(`${stack.urls.dead.replace('https', 'wss')}/ws`, { ca: stack.ca.certPem, lookup: toLoopback, perMessageDeflate: false });
    sockets.push(socket);
    socket.on('error', () => {});
    const closed = new Promise<Closed>((resolve) => socket.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
    const [hello] = (await once(socket, 'message')) as [Buffer];
    assert.equal(hello.toString(), 'hello');
    socket.send('ping');
    const [echo] = (await once(socket, 'message')) as [Buffer];
    assert.equal(echo.toString(), 'ping');
    return { socket, closed };
  }

  describe('direct forwarding', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ configure: fragileApp });
    });
    after(async () => {
      await stack.close();
    });

    it('the backend dies under an open WebSocket: the client gets 1011 with a reason', async () => {
      const { closed } = await openSocket(stack);
      backend.die();
      assert.deepEqual(await closed, { code: 1011, reason: 'backend closed the connection' });
    });
  });

  describe('through a real connector', () => {
    let setup: ConnectorStack;
    let stack: Stack;

    before(async () => {
      setup = await startConnectorStack({ tmpPrefix: 'gatehouse-ws-close-', configure: fragileApp });
      stack = setup.stack;
    });
    afterEach(async () => {
      await setup.stopConnectors();
    });
    after(async () => {
      await setup?.stop();
    });

    const connector = (name: string): Promise<RunningConnector> => setup.startConnector(name);

    it('the backend dies under an open WebSocket: the client gets 1011', async () => {
      await connector('backend-dies');
      const { closed } = await openSocket(stack);
      backend.die();
      assert.equal((await closed).code, 1011);
    });

    it('the connector dies under an open WebSocket: the client gets 1011, naming the connector', async () => {
      const running = await connector('connector-dies');
      const { closed } = await openSocket(stack);
      running.process.child.kill('SIGKILL');
      assert.deepEqual(await closed, { code: 1011, reason: 'connector connection lost' });
    });

    it('the connector shuts down on purpose under an open WebSocket: the client gets 1001', async () => {
      const running = await connector('connector-stops');
      const { closed } = await openSocket(stack);
      // SIGTERM drains (GOAWAY: the gateway opens no more streams on it); a second one ends the wait for the WebSocket.
      running.process.child.kill('SIGTERM');
      await running.process.waitFor(/SIGTERM, stopping/);
      await running.process.waitFor(/draining the tunnel/);
      running.process.child.kill('SIGTERM');
      assert.deepEqual(await closed, { code: 1001, reason: 'connector shutting down' });
    });
  });
});
