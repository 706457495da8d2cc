/**
 * The baseline of every ratio (docs/benchmarks.md): the same
 * Express app proxying direct to the backend with http-proxy-middleware and
 * a keep-alive agent, behind the same kind of HTTPS listener the gateway
 * uses (a dev CA certificate, RSA 2048), in its own process.
 *
 *   node bench/direct-proxy.ts --backend http://127.0.0.1:PORT [--eject] [--no-express] [--global-agent]
 *
 * The flags exist to check the baseline's own settings (docs/benchmark-method.md):
 * --eject drops http-proxy-middleware's default plugins (its logger plugin builds
 * a URL for every response even with no logger), --no-express serves the
 * middleware straight from the HTTPS server, --global-agent uses Node's default
 * agent (keep-alive too) instead of our own. Without them it is what an Express
 * user writes, and what `npm run bench` measures.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { createDevCa } from '../dev/lib/dev-ca.ts';
import { fullGc, serveParent } from './lib/child.ts';

export interface DirectProxyInfo {
  readonly url: string;
  readonly host: string;
  readonly caFile: string;
  readonly pid: number;
}

const { values } = parseArgs({
  options: {
    backend: { type: 'string' },
    'no-express': { type: 'boolean', default: false },
    eject: { type: 'boolean', default: false },
    'global-agent': { type: 'boolean', default: false },
  },
});
if (!values.backend) throw new Error('--backend URL is required');

const HOST = 'direct.bench.test';
const ca = createDevCa({ commonName: 'Gatehouse bench CA' });
const certificate = ca.issueServerCertificate([HOST]);
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-direct-'));
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, ca.certPem);

const agent = new Agent({ keepAlive: true });
const proxy = createProxyMiddleware({
  target: values.backend,
  ...(values['global-agent'] ? {} : { agent }),
  changeOrigin: true,
  xfwd: false,
  ...(values.eject ? { ejectPlugins: true } : {}),
});
const app = express();
app.disable('x-powered-by');
app.use(proxy);
const server = createServer(
  { cert: certificate.certPem, key: certificate.keyPem },
  values['no-express'] ? (req, res) => void proxy(req, res, () => undefined) : app,
);
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  serveParent<DirectProxyInfo>(
    { url: `https://127.0.0.1:${port}`, host: `${HOST}:${port}`, caFile, pid: process.pid },
    { stats: () => ({ memory: process.memoryUsage() }), gc: fullGc },
    async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      agent.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  );
});
