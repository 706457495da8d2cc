import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { connect, type TLSSocket } from 'node:tls';
import { startStack, type Stack } from '../support/stack.ts';

interface Exchange {
  /** Everything the gateway sent before it closed the connection or the wait ended. */
  readonly text: string;
  /** Whether the gateway closed the connection within the wait. */
  readonly closed: boolean;
  readonly ms: number;
}

/**
 * Answers that go out before the request body has arrived must close the
 * connection: otherwise it waits for a body nobody reads (and, where the
 * forwarder began reading it, never parses another request on it).
 */
describe('answers sent before the request body arrived', function () {
  this.timeout(30_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
  });

  const open = (url: string): Promise<TLSSocket> =>
    new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: stack.port, servername: new URL(url).hostname, ca: stack.ca.certPem }, () => resolve(socket));
      socket.once('error', reject);
    });

  /** Writes `head` and `body` (a part of what the head announced), then reads until the gateway closes or `waitMs` passes. */
  const exchange = async (socket: TLSSocket, head: string, body: Buffer, waitMs: number): Promise<Exchange> => {
    const started = Date.now();
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => undefined);
    // One write: one TLS record, so a small body arrives with its head.
    socket.write(Buffer.concat([Buffer.from(head), body]));
    const closed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), waitMs);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    return { text, closed, ms: Date.now() - started };
  };

  const requestHead = (url: string, method: string, headers: Record<string, string>): string =>
    `${method} ${new URL(url).pathname} HTTP/1.1\r\nHost: ${new URL(url).host}\r\nAccept: application/json\r\n${Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('')}\r\n`;

  it('a Content-Length it never sends, to a path that needs a session: 401, Connection: close, closed at once', async () => {
    const url = `${stack.urls.wiki}/upload`;
    const socket = await open(url);
    const answer = await exchange(
      socket,
      requestHead(url, 'POST', { 'Content-Length': '1000000', 'Content-Type': 'application/octet-stream' }),
      Buffer.alloc(10),
      5_000,
    );
    assert.match(answer.text, /^HTTP\/1\.1 401 /);
    assert.match(answer.text, /\r\nconnection: close\r\n/i);
    assert.ok(answer.closed, `the gateway closed the connection (after ${answer.ms} ms it had not)`);
    socket.destroy();
  });

  it('a body still streaming when the backend refuses: 502, Connection: close, closed at once', async () => {
    const url = `${stack.urls.dead}/upload`;
    const socket = await open(url);
    const answer = await exchange(socket, requestHead(url, 'PUT', { 'Content-Length': String(4 * 1024 * 1024) }), Buffer.alloc(256 * 1024, 1), 9_000);
    assert.match(answer.text, /^HTTP\/1\.1 502 /);
    assert.match(answer.text, /\r\nconnection: close\r\n/i);
    assert.ok(answer.closed, `the gateway closed the connection (after ${answer.ms} ms it had not)`);
    socket.destroy();
  });

  it('a client still sending a large body reads the early answer, not a reset (the close lingers)', async () => {
    const url = new URL(`${stack.urls.wiki}/upload`);
    const body = Buffer.alloc(8 * 1024 * 1024, 0x62);
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const outcome = await new Promise<string>((resolve) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port: stack.port,
            servername: url.hostname,
            ca: stack.ca.certPem,
            method: 'PUT',
            path: url.pathname,
            agent: false,
            headers: { host: url.host, accept: 'application/json', 'content-length': body.length },
          },
          (res) => {
            res.resume();
            res.once('end', () => resolve(`status ${res.statusCode} connection ${res.headers.connection}`));
          },
        );
        req.once('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code ?? error.message}`));
        req.end(body);
      });
      assert.equal(outcome, 'status 401 connection close');
    }
  });

  it('a whole body left unread by an answer that came after it is drained: the connection serves the next request', async () => {
    const url = `${stack.urls.wiki}/form`;
    const socket = await open(url);
    const body = Buffer.alloc(1_000, 0x61);
    // A cookie that does not unseal: the session gate answers 401 only after looking, by which time the small body is in.
    const head = requestHead(url, 'POST', { 'Content-Length': String(body.length), 'Content-Type': 'text/plain', Cookie: '__Host-gatehouse=not-a-seal' });
    const next = requestHead(`${stack.urls.wiki}/.gatehouse/healthz`, 'GET', {});
    const answer = await exchange(socket, head, Buffer.concat([body, Buffer.from(next)]), 2_000);
    assert.match(answer.text, /^HTTP\/1\.1 401 /);
    assert.doesNotMatch(answer.text, /\r\nconnection: close\r\n/i);
    assert.equal(answer.closed, false, 'kept alive');
    assert.equal(answer.text.match(/HTTP\/1\.1 \d{3} /g)?.length, 2, `both requests answered: ${answer.text.slice(0, 300)}`);
    socket.destroy();
  });
});
