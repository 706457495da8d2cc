import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { WebSocketServer } from 'ws';
import { startTestBackend, type TestBackend } from '../../src/testing/test-backend.ts';
import { digestBody } from '../../dev/lib/body-digest.ts';
import { patternStream } from '../../dev/lib/pattern-body.ts';

export interface EchoBackend extends TestBackend {
  /** Download URLs whose response the client abandoned before the end (the backend saw the close). */
  readonly closedEarly: string[];
}

type Route = (req: IncomingMessage, res: ServerResponse, echo: () => void) => void;

/** A route that adds `headers` to the usual echo. */
const echoWith =
  (headers: (req: IncomingMessage) => Record<string, string | string[]>): Route =>
  (req, res, echo) => {
    for (const [name, value] of Object.entries(headers(req))) res.setHeader(name, value);
    echo();
  };

/**
 * The stack's internal app: the test backend users get from
 * `gatehouse/testing` (JSON saying what it received, kept in `requests`),
 * with the routes the gateway's own tests need on top: bulk and streamed
 * bodies that are never buffered, answers that try to overwrite Gatehouse's
 * cookies, a redirect to its internal address, a request left hanging, an
 * upload never read, and a
 * WebSocket echo.
 */
export async function startEchoBackend(): Promise<EchoBackend> {
  const closedEarly: string[] = [];
  const internal = (path: string): string => `http://127.0.0.1:${(backend.server.address() as AddressInfo).port}${path}`;
  const routes: Record<string, Route> = {
    '/download': (req, res) => {
      const bytes = Number(URL.parse(req.url ?? '/', 'http://backend')?.searchParams.get('bytes') ?? '0');
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes) });
      const source = patternStream(bytes);
      res.once('close', () => {
        if (!res.writableFinished) closedEarly.push(req.url ?? '');
        source.destroy();
      });
      pipeline(source, res).catch(() => undefined);
    },
    '/upload': (req, res) => {
      digestBody(req).then(
        (digest) => {
          res.setHeader('Content-Type', 'application/json');
          res.end(JSON.stringify(digest));
        },
        () => res.destroy(),
      );
    },
    '/sse': (req, res) => {
      const query = URL.parse(req.url ?? '/', 'http://backend')?.searchParams;
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' });
      res.flushHeaders();
      let count = 0;
      const timer = setInterval(
        () => {
          count += 1;
          res.write(`event: tick\ndata: ${count} ${Date.now()}\n\n`);
          if (count >= Number(query?.get('count') ?? '3')) {
            clearInterval(timer);
            res.end();
          }
        },
        Number(query?.get('every') ?? '200'),
      );
      res.once('close', () => clearInterval(timer));
    },
    // Never answers: for backend timeouts.
    '/hang': (req) => req.resume(),
    // Never answers and never reads the body: an app that stopped reading an upload.
    '/stalled-upload': () => undefined,
    '/set-cookie': echoWith(() => ({
      'Set-Cookie': [
        '__Host-gatehouse=forged; Path=/; Secure; HttpOnly',
        'gatehouse=forged; Path=/',
        '__host-gatehouse=forged-lower; Path=/; Secure',
        '=__Host-gatehouse=forged-nameless; Path=/; Secure',
        '__Secure-GH-TX-abc=forged-tx; Path=/.gatehouse/; Secure',
        'app_pref=dark; Path=/',
      ],
    })),
    '/robots-tag': echoWith(() => ({ 'X-Robots-Tag': 'all' })),
    // Property tests choose the Set-Cookie lines a hostile backend answers with.
    '/set-cookies': echoWith((req) => ({
      'Set-Cookie': JSON.parse(URL.parse(req.url ?? '/', 'http://backend')?.searchParams.get('c') ?? '[]') as string[],
    })),
    '/redirect-internal': (req, res) => {
      req.resume();
      res.writeHead(302, { Location: internal('/landing?x=1') }).end();
    },
    '/cookie-scope': echoWith(() => ({ 'Set-Cookie': ['pref=1; Domain=127.0.0.1; Path=/; HttpOnly', 'other=2; Domain=elsewhere.example; Path=/x'] })),
  };
  const backend = await startTestBackend({ routes });

  // A WebSocket echo that first says which headers the upgrade carried.
  // `/ws-refuse…` is refused and `/ws-cookie…` accepted, both with headers that try to set Gatehouse's cookies.
  const hostile = (): Record<string, string | string[]> => ({
    'Set-Cookie': ['__Host-gatehouse=forged-ws; Path=/; Secure', '=__Host-gatehouse=forged-ws-nameless; Path=/', 'ws_pref=1; Path=/'],
    Location: internal('/internal-landing'),
  });
  const wss = new WebSocketServer({
    server: backend.server,
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
    backend.requests.push({ method: 'UPGRADE', path: req.url ?? '', headers: req.headers, body: '' });
    ws.send(JSON.stringify({ url: req.url, headers: req.headers }));
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  return {
    ...backend,
    closedEarly,
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      await backend.close();
    },
  };
}
