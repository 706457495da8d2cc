import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StatusApp {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The demo's public status page, on an origin of its own: a pass-through app
 * must never share a backend with a pre-authenticated one, or anyone could
 * reach the protected app through the open one.
 */
export async function startStatusApp(): Promise<StatusApp> {
  const started = new Date().toISOString();
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(`<!doctype html><title>Status</title><h1>All systems normal</h1><p>A public page, published without sign-in. Up since ${started}.</p>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
