import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import * as jose from 'jose';
import { WebSocketServer } from 'ws';
import { digestBody } from '../lib/body-digest.ts';

export interface SampleAppOptions {
  /** The gateway's JWKS, to verify the identity assertion: https://<app host>/.gatehouse/jwks.json */
  readonly jwksUrl: string;
  /** The audience of assertions for this app: its external origin. */
  readonly audience: string;
  /** Fetch that trusts the demo CA. */
  readonly fetch: (url: string, init?: RequestInit) => Promise<Response>;
}

export interface SampleApp {
  readonly url: string;
  close(): Promise<void>;
}

const escape = (value: string): string =>
  value.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char] ?? char);

const page = (title: string, body: string): string => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}code,pre{background:#f4f4f4;padding:.1rem .3rem;border-radius:4px}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}.ok{color:#1a7f37}.bad{color:#cf222e}nav a{margin-right:1rem}</style>
</head><body><nav><a href="/">Who am I</a><a href="/websocket">WebSocket echo</a><a href="/transfer">Upload &amp; download</a><a href="/admin/">Admin (MFA)</a><a href="/.gatehouse/logout">Sign out</a></nav>${body}</body></html>`;

/**
 * The internal app of the demo: it shows what reached it through Gatehouse —
 * the identity headers, the identity assertion verified against the
 * gateway's keys, the cookies (Gatehouse's own never arrive) — and offers a
 * WebSocket echo, an upload and a streamed download.
 */
export async function startSampleApp(options: SampleAppOptions): Promise<SampleApp> {
  const jwks = jose.createRemoteJWKSet(new URL(options.jwksUrl), {
    [jose.customFetch]: (url, init) => options.fetch(url, init),
  });
  const verify = async (headers: IncomingHttpHeaders): Promise<{ ok: boolean; text: string }> => {
    const token = headers['x-gatehouse-assertion'];
    if (typeof token !== 'string') return { ok: false, text: 'no assertion (a pass-through app, or not signed in)' };
    try {
      const { payload } = await jose.jwtVerify(token, jwks, { issuer: 'urn:gatehouse', audience: options.audience, algorithms: ['ES256'] });
      return { ok: true, text: JSON.stringify(payload, null, 2) };
    } catch (error) {
      return { ok: false, text: `refused: ${error instanceof Error ? error.message : String(error)}` };
    }
  };

  const app = express();
  app.disable('x-powered-by');
  const whoami = async (req: express.Request, res: express.Response, heading: string): Promise<void> => {
    const assertion = await verify(req.headers);
    const cookies = req.headers.cookie ?? '';
    const gatehouseCookie = /(^|;\s*)(__Host-)?gatehouse=/.test(cookies);
    const rows = Object.entries(req.headers)
      .filter(([name]) => name.startsWith('x-'))
      .map(
        ([name, value]) =>
          `<tr><th>${escape(name)}</th><td><code>${escape(String(value).slice(0, 200))}${String(value).length > 200 ? '…' : ''}</code></td></tr>`,
      )
      .join('');
    res.type('html').send(
      page(
        heading,
        `<h1>${escape(heading)}</h1>
<p id="user">Signed in as <strong>${escape(String(req.headers['x-remote-user'] ?? 'nobody (pass-through)'))}</strong></p>
<h2>Identity assertion</h2><p id="assertion" class="${assertion.ok ? 'ok' : 'bad'}">${assertion.ok ? "Verified with the gateway's JWKS" : escape(assertion.text)}</p>
${assertion.ok ? `<pre>${escape(assertion.text)}</pre>` : ''}
<h2>Cookies this app received</h2><p id="cookies">${cookies ? `<code>${escape(cookies)}</code>` : 'none'}</p>
<p id="gatehouse-cookie" class="${gatehouseCookie ? 'bad' : 'ok'}">${gatehouseCookie ? "Gatehouse's session cookie reached the app!" : "Gatehouse's session cookie did not reach this app."}</p>
<h2>Headers set by Gatehouse</h2><table>${rows}</table>`,
      ),
    );
  };
  app.get('/', (req, res) => whoami(req, res, 'Internal app'));
  app.get('/admin/', (req, res) => whoami(req, res, 'Admin area (needs multi-factor authentication)'));
  app.get('/websocket', (_req, res) => {
    res.type('html').send(
      page(
        'WebSocket echo',
        `<h1>WebSocket echo</h1><p>Status: <span id="status">connecting</span></p><p><input id="text" value="hello through the tunnel"><button id="send">Send</button></p><pre id="log"></pre>
<script>
const log = (line) => { document.getElementById('log').textContent += line + '\\n'; };
const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
ws.onopen = () => { document.getElementById('status').textContent = 'open'; };
ws.onclose = () => { document.getElementById('status').textContent = 'closed'; };
ws.onmessage = (event) => log('echo: ' + event.data);
document.getElementById('send').onclick = () => ws.send(document.getElementById('text').value);
</script>`,
      ),
    );
  });
  app.get('/transfer', (_req, res) => {
    res.type('html').send(
      page(
        'Upload and download',
        `<h1>Upload and download</h1>
<form method="post" action="/upload" enctype="multipart/form-data" id="upload-form"><input type="file" name="file" id="file"><button>Upload</button></form>
<p><a id="download" href="/download?mb=8">Download 8 MiB (streamed)</a></p>`,
      ),
    );
  });
  app.post('/upload', (req, res) => {
    digestBody(req).then(
      ({ bytes, sha256 }) => {
        res
          .type('html')
          .send(
            page('Uploaded', `<h1>Uploaded</h1><p id="upload-result">Received <span id="bytes">${bytes}</span> bytes, SHA-256 <code>${sha256}</code>.</p>`),
          );
      },
      () => res.destroy(),
    );
  });
  app.get('/download', (req, res) => {
    const megabytes = Math.min(1024, Math.max(1, Number(req.query['mb'] ?? 8) || 8));
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Disposition', `attachment; filename="demo-${megabytes}MiB.bin"`);
    res.setHeader('Content-Length', String(megabytes * 1024 * 1024));
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    let sent = 0;
    const pump = (): void => {
      while (sent < megabytes) {
        sent += 1;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });

  const server: Server = createServer(app);
  const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, maxPayload: 64 * 1024 });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
