import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import type { GatewayConfigInput } from '../../src/config/schema.ts';
import { startRegisteredConnector, type RunningConnector } from '../../dev/lib/connector-process.ts';
import { toLoopback } from '../support/loopback.ts';
import { startStack, type Stack } from '../support/stack.ts';

/** An echo backend that counts the WebSocket connections that reached it and those that went away. */
interface CountingBackend {
  readonly url: string;
  readonly gone: () => number;
  close(): Promise<void>;
}

async function startCountingBackend(): Promise<CountingBackend> {
  const server: Server = createServer((_req, res) => res.end('ok'));
  const wss = new WebSocketServer({ server });
  let gone = 0;
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => {});
    ws.on('close', () => (gone += 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    gone: () => gone,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A WebSocket sending a numbered message every few milliseconds and following the echoes. */
interface Chatter {
  readonly socket: WebSocket;
  /** Set once the socket closed. */
  closedWith: number | undefined;
  /** The highest message number echoed so far. */
  echoed: number;
  sent: number;
  readonly stop: () => void;
}

const SOCKETS = 16;
/** The kill lands at a random moment of the traffic; more rounds (GATEHOUSE_KILL_ROUNDS) try more moments. */
const ROUNDS = Number(process.env['GATEHOUSE_KILL_ROUNDS'] ?? '3');

/**
 * Many WebSockets spread over two connectors of one group, two tunnels
 * each, messages flowing both ways; one connector is killed with SIGKILL.
 * Every WebSocket it carried must be told at once (1011, or 1006 when it
 * died in the middle of a frame), without waiting for a heartbeat, and every
 * WebSocket on the other connector must keep echoing.
 *
 * With the gateway's HTTP/2 session straight on the TLS socket, about one
 * kill in twelve on a loaded machine left a tunnel the kernel had closed
 * counted as healthy, its WebSockets neither echoed nor closed, until the
 * heartbeat ended it some 20 s later.
 */
describe('WebSockets over two connectors when one is killed', function () {
  this.timeout(300_000);
  let backend: CountingBackend;
  let stack: Stack;
  let dir: string;
  const running: RunningConnector[] = [];
  const chatters: Chatter[] = [];

  before(async () => {
    backend = await startCountingBackend();
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-ws-kill-'));
    const configure = (config: GatewayConfigInput): GatewayConfigInput => ({
      ...config,
      apps: config.apps.map((app) => (app.id === 'dead' ? { ...app, internalUrl: backend.url } : app)),
    });
    stack = await startStack({ connectors: true, configure });
  });
  afterEach(async () => {
    for (const chatter of chatters.splice(0)) chatter.stop();
    for (const connector of running.splice(0)) await connector.process.stop('SIGKILL');
  });
  after(async () => {
    await stack.close();
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function connector(name: string): Promise<RunningConnector> {
    const started = await startRegisteredConnector(stack, join(dir, name), ['--tunnels', '2']);
    running.push(started);
    return started;
  }

  async function chatter(): Promise<Chatter> {
    const socket = new WebSocket(`${stack.urls.dead.replace('https', 'wss')}/ws`, { ca: stack.ca.certPem, lookup: toLoopback, perMessageDeflate: false });
    socket.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
    });
    const state: Chatter = {
      socket,
      closedWith: undefined,
      echoed: 0,
      sent: 0,
      stop: () => {
        clearInterval(ticker);
        socket.terminate();
      },
    };
    socket.on('message', (data: Buffer) => (state.echoed = Number(data.toString().split(' ')[0])));
    socket.once('close', (code: number) => {
      state.closedWith = code;
      clearInterval(ticker);
    });
    const ticker: NodeJS.Timeout = setInterval(() => {
      if (socket.readyState !== WebSocket.OPEN) return;
      state.sent += 1;
      // Now and then a message of several frames' worth, so that a kill may land in the middle of one.
      socket.send(`${state.sent} ${state.sent % 7 === 0 ? 'x'.repeat(48 * 1024) : 'ping'}`);
    }, 20);
    return state;
  }

  const until = async (what: string | (() => string), done: () => boolean, ms: number): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`${typeof what === 'string' ? what : what()}: not within ${ms} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  for (let round = 1; round <= ROUNDS; round++) {
    it(`round ${round}: every WebSocket of the killed connector is closed at once, the others keep echoing`, async () => {
      const kept = await connector(`kept-${round}`);
      const killed = await connector(`killed-${round}`);
      const tunnels = (id: string): number => stack.gateway.connectors!.tunnels.sessions().filter((session) => session.connectorId === id).length;
      await until('both connectors connected', () => tunnels(kept.id) === 2 && tunnels(killed.id) === 2, 30_000);
      for (let n = 0; n < SOCKETS; n++) chatters.push(await chatter());
      await until('every WebSocket echoing', () => chatters.every((c) => c.echoed > 0), 30_000);
      const goneBefore = backend.gone();

      killed.process.child.kill('SIGKILL');
      // Generous, but well below the tunnel heartbeat's 10 s interval + 10 s timeout: a dead connector is noticed by its closed socket.
      await until(
        () => `the killed connector's tunnels closed (${tunnels(killed.id)} left)`,
        () => tunnels(killed.id) === 0,
        8_000,
      );
      // The backend lost the connections the killed connector had made to it: that many clients must have been told.
      await until('the backend saw the killed connections go', () => backend.gone() > goneBefore, 8_000);
      const onKilled = (): Chatter[] => chatters.filter((c) => c.closedWith !== undefined);
      await until(
        () => `every WebSocket of the killed connector closed (${onKilled().length} of ${backend.gone() - goneBefore})`,
        () => onKilled().length >= backend.gone() - goneBefore,
        8_000,
      );
      const marks = new Map(chatters.map((c) => [c, c.sent]));
      const alive = chatters.filter((c) => c.closedWith === undefined);
      await until(
        () => `the other WebSockets echo what they send after the kill (${alive.filter((c) => c.echoed <= marks.get(c)!).length} of ${alive.length} stuck)`,
        () => alive.every((c) => c.echoed > marks.get(c)!),
        8_000,
      );
      assert.ok(onKilled().length > 0 && alive.length > 0, `spread: ${onKilled().length} on the killed connector, ${alive.length} on the other`);
      for (const c of onKilled()) assert.ok(c.closedWith === 1011 || c.closedWith === 1006, `closed with ${c.closedWith}`);
    });
  }
});
