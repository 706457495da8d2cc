/**
 * What an Express user reaches for to put a sign-in in front of an app:
 * Express + `express-openid-connect` (its defaults: sign-in required on every
 * route, the implicit `id_token` response posted back, the session in an
 * encrypted rolling cookie) proxying to the bench backend with
 * http-proxy-middleware and a keep-alive agent, as bench/direct-proxy.ts does,
 * behind the same kind of HTTPS listener (a dev CA certificate, RSA 2048), in
 * its own process. The identity provider is the development one (a real
 * oidc-provider) in this process, as the Gatehouse services have theirs: it
 * is idle while requests are measured.
 *
 *   node bench/oidc-proxy.ts --backend http://127.0.0.1:PORT
 *
 * Commands over IPC (bench/lib/child.ts): cookie (signs alice in through the
 * real login form, returns the Cookie header), stats, gc (with --expose-gc).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import express from 'express';
import { auth } from 'express-openid-connect';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { BrowserClient, createCaFetch } from '../dev/lib/browser-client.ts';
import { createDevCa } from '../dev/lib/dev-ca.ts';
import { startIdentityProvider } from '../dev/lib/identity-provider/index.ts';
import { fullGc, serveParent } from './lib/child.ts';

export interface OidcProxyInfo {
  readonly url: string;
  readonly host: string;
  readonly caFile: string;
  readonly pid: number;
}

const { values } = parseArgs({ options: { backend: { type: 'string' } } });
if (!values.backend) throw new Error('--backend URL is required');

const HOST = 'eoidc.bench.test';
const CLIENT_ID = 'bench-express-openid-connect';
const ca = createDevCa({ commonName: 'Gatehouse bench CA' });
const certificate = ca.issueServerCertificate([HOST]);
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-eoidc-'));
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, ca.certPem);

// Listening first: the app's base URL (and so the client's redirect URI at the provider) carries the port.
const server = createServer({ cert: certificate.certPem, key: certificate.keyPem });
server.keepAliveTimeout = 65_000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
const baseURL = `https://${HOST}:${port}`;

const idp = await startIdentityProvider({
  ca,
  // Its defaults: the implicit flow with form_post, a public client (no secret).
  clients: [{ client_id: CLIENT_ID, redirect_uris: [`${baseURL}/callback`], response_types: ['id_token'], grant_types: ['implicit'] }],
});
const caFetch = createCaFetch({ ca: idp.caPem });

const agent = new Agent({ keepAlive: true });
const app = express();
app.disable('x-powered-by');
app.use(
  auth({
    issuerBaseURL: idp.issuer,
    baseURL,
    clientID: CLIENT_ID,
    secret: 'bench-express-openid-connect-secret-0123456789abcdef',
    // The only departure from its defaults: trust the development identity provider's CA.
    customFetch: caFetch.fetch as typeof fetch,
  }),
);
app.use(createProxyMiddleware({ target: values.backend, agent, changeOrigin: true, xfwd: false }));
server.on('request', app);

const alice = idp.users.find((user) => user.login === 'alice')!;

serveParent<OidcProxyInfo>(
  { url: `https://127.0.0.1:${port}`, host: `${HOST}:${port}`, caFile, pid: process.pid },
  {
    cookie: async () => {
      const browser = new BrowserClient({ ca: [ca.certPem, idp.caPem] });
      try {
        const { response } = await browser.signIn(`${baseURL}/1k`, alice.login, alice.password);
        if (response.status !== 200) throw new Error(`express-openid-connect sign-in ended with ${response.status} at ${response.url}`);
        const cookie = browser.jar.getCookieStringSync(`${baseURL}/1k`);
        if (!/appSession=/.test(cookie)) throw new Error(`express-openid-connect sign-in left no appSession cookie (${cookie})`);
        return cookie;
      } finally {
        await browser.close();
      }
    },
    stats: () => ({ memory: process.memoryUsage() }),
    gc: fullGc,
  },
  async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    agent.destroy();
    await caFetch.close();
    await idp.close();
    rmSync(dir, { recursive: true, force: true });
  },
);
