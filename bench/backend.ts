/**
 * The internal app for the benchmark and the endurance test, in its own
 * process: a plain node:http server on 127.0.0.1.
 *
 *   GET  /1k          1 KiB of text
 *   GET  /bytes?n=N   N bytes of the pattern body (dev/lib/pattern-body.ts), with Content-Length
 *   POST /sha         reads the body, answers {"bytes":N,"sha256":"…"}
 *   GET  /quiet?ms=N  an event stream that sends its head at once, then nothing for N ms, then one event and ends
 *
 * Started by bench/lib/child.ts: reports { url } when listening, exits when the parent goes away.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import { serveParent } from './lib/child.ts';
import { patternStream } from '../dev/lib/pattern-body.ts';
import { digestBody } from '../dev/lib/body-digest.ts';

export interface BackendInfo {
  readonly url: string;
  readonly pid: number;
}

const ONE_KIB = Buffer.alloc(1024, 'x');
const MAX_BYTES = 4 * 1024 * 1024 * 1024;
const MAX_QUIET_MS = 10 * 60_000;

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://backend.invalid');
  if (req.method === 'GET' && url.pathname === '/1k') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': ONE_KIB.length });
    res.end(ONE_KIB);
    return;
  }
  if (req.method === 'GET' && url.pathname === '/bytes') {
    const n = Number(url.searchParams.get('n'));
    if (!Number.isSafeInteger(n) || n < 0 || n > MAX_BYTES) {
      res.writeHead(400).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
    pipeline(patternStream(n), res, () => undefined);
    return;
  }
  if (req.method === 'POST' && url.pathname === '/sha') {
    digestBody(req).then(
      (digest) => {
        const body = JSON.stringify(digest);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      },
      () => res.destroy(),
    );
    return;
  }
  if (req.method === 'GET' && url.pathname === '/quiet') {
    const ms = Number(url.searchParams.get('ms'));
    if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_QUIET_MS) {
      res.writeHead(400).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.flushHeaders();
    const timer = setTimeout(() => res.end('data: after the quiet\n\n'), ms);
    res.once('close', () => clearTimeout(timer));
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found');
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  serveParent<BackendInfo>({ url: `http://127.0.0.1:${port}`, pid: process.pid }, {}, async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  });
});
