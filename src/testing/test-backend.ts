import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the test backend received: what Gatehouse forwarded. */
export interface TestBackendRequest {
  readonly method: string;
  /** Path and query, as the backend saw them. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The body as UTF-8 text; empty for a request a route answered without `echo()`. */
  readonly body: string;
}

/** A running echo backend from `startTestBackend()`. */
export interface TestBackend {
  /** http://127.0.0.1:PORT — an app's internalUrl. */
  readonly url: string;
  /** Every request received, oldest first, recorded as it arrives. */
  readonly requests: TestBackendRequest[];
  /** The `node:http` server, e.g. to attach a WebSocket server to it. */
  readonly server: Server;
  close(): Promise<void>;
}

/** Options of `startTestBackend()`. */
export interface TestBackendOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /**
   * Answers of your own for some paths (matched without the query): a
   * redirect, a download, a request left hanging. A route answers by itself,
   * or sets headers and calls `echo()` for the usual JSON answer.
   */
  readonly routes?: Readonly<Record<string, (req: IncomingMessage, res: ServerResponse, echo: () => void) => void>>;
}

// A test backend echoes bodies back; anything larger is a test's mistake, refused rather than buffered.
const MAX_TEST_BODY_BYTES = 1024 * 1024;

/**
 * A tiny internal app for tests: answers every request with JSON saying what
 * it received (method, path, headers, body) and keeps it in `requests`, so a
 * test can assert what Gatehouse forwarded — the identity assertion and
 * headers there, Gatehouse's cookies not. Listens on port 0.
 */
export async function startTestBackend(options: TestBackendOptions = {}): Promise<TestBackend> {
  const requests: TestBackendRequest[] = [];
  const server = createServer((req, res) => {
    const received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: '' };
    requests.push(received);
    // With its length, not chunked: clients that read one answer on a kept-alive connection know where it ends.
    const answer = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) }).end(body);
    };
    const echo = (): void => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_TEST_BODY_BYTES) chunks.push(chunk);
      });
      req.on('end', () => {
        if (size > MAX_TEST_BODY_BYTES) {
          answer(413, 'text/plain; charset=utf-8', `the test backend takes bodies up to ${MAX_TEST_BODY_BYTES} bytes\n`);
          return;
        }
        received.body = Buffer.concat(chunks).toString('utf8');
        answer(200, 'application/json; charset=utf-8', JSON.stringify(received));
      });
    };
    const pathname = URL.parse(req.url ?? '/', 'http://backend.invalid')?.pathname;
    const route = pathname === undefined ? undefined : options.routes?.[pathname];
    if (route) route(req, res, echo);
    else echo();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    requests,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
