/**
 * The baseline of every ratio (docs/benchmarks.md): the same
 * Express app proxying direct to the backend with http-proxy-middleware and
 * a keep-alive agent, behind the same kind of HTTPS listener the gateway
 * uses (a dev CA certificate, RSA 2048), in its own process.
 *
 *   node bench/direct-proxy.ts --backend http://127.0.0.1:PORT
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

const { values } = parseArgs({ options: { backend: { type: 'string' } } });
if (!values.backend) throw new Error('--backend URL is required');

const HOST = 'direct.bench.test';
const ca = createDevCa({ commonName: 'Gatehouse bench CA' });
const certificate = ca.issueServerCertificate([HOST]);
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-direct-'));
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, ca.certPem);

const agent = new Agent({ keepAlive: true });
const app = express();
app.disable('x-powered-by');
app.use(createProxyMiddleware({ target: values.backend, agent, changeOrigin: true, xfwd: false }));
const server = createServer({ cert: certificate.certPem, key: certificate.keyPem }, app);
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
