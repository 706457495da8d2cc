import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { AuditLog, memorySink } from '../../../src/audit/audit-log.ts';
import type { BodyLimitSettings } from '../../../src/config/body-limits-schema.ts';
import { SlowClientGuard } from '../../../src/edge/slow-clients.ts';
import { CONNECTION_CAP_RETRY_AFTER_SECONDS } from '../../../src/limits.ts';

/** What came back on a raw connection until it closed (or `timeoutMs`), and whether it closed. */
function rawExchange(port: number, send: (socket: Socket) => void, timeoutMs: number): Promise<{ answer: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const finish = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ answer: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once('connect', () => send(socket));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
  });
}

describe('slow clients: the connection cap and the body watchdog on a plain HTTP server', () => {
  const body: BodyLimitSettings = { minRate: 100, window: 1, grace: 1, timeout: false };
  let server: Server;
  let port: number;
  let guard: SlowClientGuard;
  let sink: ReturnType<typeof memorySink>;
  let audit: AuditLog;
  let registry: Registry;
  let detach: () => void;
  const seen: IncomingMessage[] = [];
  let handler: (req: IncomingMessage, res: ServerResponse) => void;

  beforeEach(async () => {
    sink = memorySink();
    audit = new AuditLog([sink]);
    registry = new Registry();
    guard = new SlowClientGuard({ audit, registry, limits: () => ({ body, connections: { perIp: 2 } }), bodyWatch: { tickMs: 20 } });
    seen.length = 0;
    handler = (req, res) => {
      seen.push(req);
      req.resume();
      req.once('end', () => res.end('ok'));
    };
    server = createServer((req, res) => handler(req, res));
    detach = guard.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterEach(async () => {
    detach();
    guard.close();
    server.closeAllConnections();
    server.close();
    await audit.close();
  });

  it('answers a connection past the cap with a bare 503, Retry-After and Connection: close, before reading it', async () => {
    const held = [connect(port, '127.0.0.1'), connect(port, '127.0.0.1')];
    await Promise.all(held.map((socket) => once(socket, 'connect')));
    await sleep(50);
    assert.equal(guard.connections.count('127.0.0.1'), 2);
    const refused = await rawExchange(port, (socket) => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 3000);
    assert.ok(refused.closed);
    assert.match(refused.answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(refused.answer, new RegExp(`\\r\\nRetry-After: ${CONNECTION_CAP_RETRY_AFTER_SECONDS}\\r\\n`));
    assert.match(refused.answer, /\r\nConnection: close\r\n/);
    assert.equal(seen.length, 0, 'the refused request never reached the request listener');
    assert.match(await registry.getSingleMetricAsString('gatehouse_connections_refused_total'), /\{limit="per_ip"\} 1$/m);
    assert.match(await registry.getSingleMetricAsString('gatehouse_client_connections'), / 2$/m);
    assert.equal(sink.ofType('connection.refused')[0]?.clientIp, '127.0.0.1');
    for (const socket of held) socket.destroy();
    await sleep(50);
    assert.equal(guard.connections.count('127.0.0.1'), 0, 'closed connections leave the count');
  });

  it('cuts a trickled body with 408 and Connection: close, and closes the connection', async () => {
    const at = performance.now();
    const outcome = await rawExchange(
      port,
      (socket) => {
        socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n');
        const drip = setInterval(() => (socket.writable ? socket.write('x') : clearInterval(drip)), 200);
        socket.once('close', () => clearInterval(drip));
      },
      6000,
    );
    assert.ok(outcome.closed, 'closed');
    assert.ok(performance.now() - at < 4000);
    assert.match(outcome.answer, /^HTTP\/1\.1 408 /);
    assert.match(outcome.answer, /\r\nConnection: close\r\n/i);
    assert.equal(sink.ofType('request.timed_out')[0]?.reason, 'body_rate');
  });

  it('does not blame the client for time the server was not reading: a full buffer pauses the rate check', async () => {
    let taken: IncomingMessage | undefined;
    // The server does not read the body for 2.5 s (a request waiting for a tunnel stream), then reads it all.
    handler = (req, res) => {
      taken = req;
      setTimeout(() => {
        req.resume();
        req.once('end', () => res.end('ok'));
      }, 2500);
    };
    const size = 256 * 1024;
    const outcome = await rawExchange(
      port,
      (socket) => socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n${'y'.repeat(size)}`),
      8000,
    );
    assert.ok(taken);
    assert.match(outcome.answer, /^HTTP\/1\.1 200 /);
    assert.equal(sink.ofType('request.timed_out').length, 0);
  });
});
