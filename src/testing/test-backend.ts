import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the test backend received: what Gatehouse forwarded. */
export interface TestBackendRequest {
  readonly method: string;
  /** Path and query, as the backend saw them. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The body as UTF-8 text. */
  readonly body: string;
}

/** A running echo backend from `startTestBackend()`. */
export interface TestBackend {
  /** http://127.0.0.1:PORT — an app's internalUrl. */
  readonly url: string;
  /** Every request received, oldest first. */
  readonly requests: TestBackendRequest[];
  close(): Promise<void>;
}

/** Options of `startTestBackend()`. */
export interface TestBackendOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
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
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_TEST_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_TEST_BODY_BYTES) {
        res.writeHead(413, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`the test backend takes bodies up to ${MAX_TEST_BODY_BYTES} bytes\n`);
        return;
      }
      const received: TestBackendRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(received);
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' }).end(JSON.stringify(received));
    });
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
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
