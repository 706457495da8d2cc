import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:tls';
import WebSocket from 'ws';
import { toLoopback } from '../support/loopback.ts';
import { startStack, type Stack } from '../support/stack.ts';

/** What a client that kept sending after its upgrade request read back, and how its connection ended. */
interface Attempt {
  readonly text: string;
  readonly error: string | undefined;
}

/**
 * A refused upgrade is answered on the raw socket and the connection closes. A
 * client that sends frames right after its request (as a WebSocket client may)
 * still has bytes on the way when the answer goes out: a socket destroyed with
 * unread input answers them with a reset, and the client's next write fails
 * before it reads the answer waiting for it. The close must linger instead.
 */
describe('a refused upgrade from a client that keeps sending', function () {
  this.timeout(120_000);
  let stack: Stack;
  let held: WebSocket | undefined;

  before(async () => {
    stack = await startStack({ configure: (config) => ({ ...config, limits: { streams: { websocketsPerIp: 1 } } }) });
  });
  after(async () => {
    held?.terminate();
    await stack.close();
  });

  /** Sends an upgrade request with a first frame in the same write, then keeps writing frames until the gateway closes. */
  const attempt = (url: string): Promise<Attempt> =>
    new Promise((resolve) => {
      const target = new URL(url);
      const socket = connect({ host: '127.0.0.1', port: stack.port, servername: target.hostname, ca: stack.ca.certPem });
      const chunks: Buffer[] = [];
      const frame = Buffer.alloc(16 * 1024, 0x61);
      let sent = 0;
      let done = false;
      const finish = (error?: NodeJS.ErrnoException): void => {
        if (done) return;
        done = true;
        socket.destroy();
        resolve({ text: Buffer.concat(chunks).toString('latin1'), error: error ? (error.code ?? error.message) : undefined });
      };
      // Paced, so that writing outlasts the gateway's refusal: buffers cannot take it all before the answer goes out.
      const pump = (): void => {
        if (done) return;
        if (sent >= 2 * 1024 * 1024) {
          // It reads once all is handed over, as a client that sends its whole request first does.
          socket.write(Buffer.alloc(0), () => socket.resume());
          return;
        }
        sent += frame.length;
        socket.write(frame);
        setTimeout(pump, 1);
      };
      socket.once('secureConnect', () => {
        const head =
          `GET /ws HTTP/1.1\r\nHost: ${target.host}\r\nOrigin: ${target.origin}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAccept: application/json\r\n\r\n';
        socket.pause();
        socket.write(Buffer.concat([Buffer.from(head), frame]));
        pump();
      });
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', finish);
      socket.on('end', () => finish());
      socket.on('close', () => finish());
    });

  /** The status and whether the body arrived whole (as long as its Content-Length says). */
  const answered = (result: Attempt): string => {
    const split = result.text.indexOf('\r\n\r\n');
    if (split < 0) return `no whole head (${result.error ?? 'closed'}): ${JSON.stringify(result.text.slice(0, 60))}`;
    const head = result.text.slice(0, split);
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? -1);
    const body = result.text.slice(split + 4);
    return `${head.split('\r\n')[0]}, body ${body.length === length ? 'whole' : `${body.length} of ${length} bytes (${result.error ?? 'closed'})`}`;
  };

  it('reads the whole 401 for an upgrade without a session, every time', async () => {
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 25; i += 1) {
      const outcome = answered(await attempt(`${stack.urls.wiki}/ws`));
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    assert.deepEqual([...outcomes], [['HTTP/1.1 401 Sign-in required, body whole', 25]]);
  });

  it('reads the whole 429 for an upgrade past the per-address WebSocket cap, every time', async () => {
    held = new WebSocket(`${stack.urls.open.replace('https', 'wss')}/ws`, { ca: stack.ca.certPem, lookup: toLoopback, perMessageDeflate: false });
    held.on('error', () => {});
    await once(held, 'message');
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 25; i += 1) {
      const outcome = answered(await attempt(`${stack.urls.open}/ws`));
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    assert.deepEqual([...outcomes], [['HTTP/1.1 429 Too many WebSockets, body whole', 25]]);
  });
});
