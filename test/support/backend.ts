import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { WebSocketServer } from 'ws';
import { digestBody } from '../../dev/lib/body-digest.ts';
import { patternStream } from '../../dev/lib/pattern-body.ts';

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

export interface EchoBackend {
  readonly url: string;
  readonly seen: SeenRequest[];
  /** Download URLs whose response the client abandoned before the end (the backend saw the close). */
  readonly closedEarly: string[];
  close(): Promise<void>;
}

/**
 * A plain internal app on 127.0.0.1: answers every request with JSON saying
 * what it received, and records it so tests can assert what reached it.
 * `/set-cookie` answers with cookies that try to overwrite Gatehouse's.
 */
export async function startEchoBackend(): Promise<EchoBackend> {
  const seen: SeenRequest[] = [];
  const closedEarly: string[] = [];
  const server: Server = createServer((req, res) => {
    const record = { method: req.method ?? '', url: req.url ?? '', headers: req.headers };
    seen.push(record);
    const url = new URL(req.url ?? '/', 'http://backend');
    // Bulk and streaming endpoints: never buffered, so memory stays flat whatever the size.
    if (url.pathname === '/download') {
      const bytes = Number(url.searchParams.get('bytes') ?? '0');
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes) });
      const source = patternStream(bytes);
      res.once('close', () => {
        if (!res.writableFinished) closedEarly.push(req.url ?? '');
        source.destroy();
      });
      pipeline(source, res).catch(() => undefined);
      return;
    }
    if (url.pathname === '/upload') {
      digestBody(req).then(
        (digest) => {
          res.setHeader('Content-Type', 'application/json');
          res.end(JSON.stringify(digest));
        },
        () => res.destroy(),
      );
      return;
    }
    if (url.pathname === '/sse') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' });
      res.flushHeaders();
      let count = 0;
      const timer = setInterval(
        () => {
          count += 1;
          res.write(`event: tick\ndata: ${count} ${Date.now()}\n\n`);
          if (count >= Number(url.searchParams.get('count') ?? '3')) {
            clearInterval(timer);
            res.end();
          }
        },
        Number(url.searchParams.get('every') ?? '200'),
      );
      res.once('close', () => clearInterval(timer));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      // Never answers: for backend timeouts.
      if (req.url === '/hang') return;
      if (req.url === '/set-cookie') {
        res.setHeader('Set-Cookie', [
          '__Host-gatehouse=forged; Path=/; Secure; HttpOnly',
          'gatehouse=forged; Path=/',
          '__host-gatehouse=forged-lower; Path=/; Secure',
          '=__Host-gatehouse=forged-nameless; Path=/; Secure',
          '__Secure-GH-TX-abc=forged-tx; Path=/.gatehouse/; Secure',
          'app_pref=dark; Path=/',
        ]);
      }
      if (req.url === '/robots-tag') res.setHeader('X-Robots-Tag', 'all');
      // Property tests choose the Set-Cookie lines a hostile backend answers with.
      if (url.pathname === '/set-cookies') res.setHeader('Set-Cookie', JSON.parse(url.searchParams.get('c') ?? '[]') as string[]);
      if (req.url === '/redirect-internal') {
        res.writeHead(302, { Location: `http://127.0.0.1:${(server.address() as AddressInfo).port}/landing?x=1` });
        res.end();
        return;
      }
      if (req.url === '/cookie-scope') {
        res.setHeader('Set-Cookie', ['pref=1; Domain=127.0.0.1; Path=/; HttpOnly', 'other=2; Domain=elsewhere.example; Path=/x']);
      }
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ ...record, body: Buffer.concat(chunks).toString('utf8') }));
    });
  });
  // A WebSocket echo that first says which headers the upgrade carried.
  // `/ws-refuse…` is refused and `/ws-cookie…` accepted, both with headers that try to set Gatehouse's cookies.
  const internal = (): string => `http://127.0.0.1:${(server.address() as AddressInfo).port}/internal-landing`;
  const hostile = (): Record<string, string | string[]> => ({
    'Set-Cookie': ['__Host-gatehouse=forged-ws; Path=/; Secure', '=__Host-gatehouse=forged-ws-nameless; Path=/', 'ws_pref=1; Path=/'],
    Location: internal(),
  });
  const wss = new WebSocketServer({
    server,
    perMessageDeflate: false,
    verifyClient: (info, callback) => {
      if (info.req.url?.startsWith('/ws-refuse')) callback(false, 403, 'Forbidden', hostile());
      else callback(true);
    },
  });
  wss.on('headers', (headers, req) => {
    const chosen = new URL(req.url ?? '/', 'http://backend');
    if (chosen.pathname === '/ws-set-cookies') {
      for (const line of JSON.parse(chosen.searchParams.get('c') ?? '[]') as string[]) headers.push(`Set-Cookie: ${line}`);
      return;
    }
    if (!req.url?.startsWith('/ws-cookie')) return;
    for (const [name, value] of Object.entries(hostile())) for (const item of [value].flat()) headers.push(`${name}: ${item}`);
  });
  wss.on('connection', (ws, req) => {
    seen.push({ method: 'UPGRADE', url: req.url ?? '', headers: req.headers });
    ws.send(JSON.stringify({ url: req.url, headers: req.headers }));
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    closedEarly,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
