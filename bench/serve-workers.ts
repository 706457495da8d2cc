/**
 * `gatehouse serve --workers N` through the whole stack: the CLI with a Redis store, a real connector process
 * (tunnels to every worker), a signed-in user's cookie from the real identity provider, and the load generator at
 * C keep-alive connections on GET /1k. Prints requests/s and CPU per request (primary and workers together, and
 * the connector) for each worker count.
 *
 *   node bench/serve-workers.ts [--workers 1,2] [--connections 64] [--warm S] [--measure S]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BrowserClient } from '../dev/lib/browser-client.ts';
import { startRegisteredConnector } from '../dev/lib/connector-process.ts';
import { createDevCa } from '../dev/lib/dev-ca.ts';
import { adminTokens, CONNECTOR_RESOURCE_SERVER, CONNECTOR_SCOPE, DEVICE_CLIENT } from '../dev/lib/device-approval.ts';
import { DEFAULT_DEV_USERS, startIdentityProvider } from '../dev/lib/identity-provider/index.ts';
import { startNode } from '../dev/lib/processes.ts';
import type { BackendInfo } from './backend.ts';
import { startChild } from './lib/child.ts';
import { cpuModel, cpuTimeMs } from './lib/procfs.ts';
import { startRedis } from './lib/redis.ts';
import type { GetResult } from './loadgen.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const CLI = join(HERE, '..', 'src', 'cli', 'gatehouse.ts');
const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '1,2' },
    connections: { type: 'string', default: '64' },
    warm: { type: 'string', default: '5' },
    measure: { type: 'string', default: '15' },
  },
});

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function loadgen(args: string[]): Promise<GetResult> {
  const child = spawn(process.execPath, [join(HERE, 'loadgen.ts'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  await once(child, 'exit');
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as GetResult;
}

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-workers-'));
const ca = createDevCa({ commonName: 'Gatehouse workers bench CA' });
writeFileSync(join(dir, 'ca.pem'), ca.certPem);
const tls = ca.issueServerCertificate(['wiki.localhost', 'localhost', '127.0.0.1']);
writeFileSync(join(dir, 'tls.crt'), tls.certPem);
writeFileSync(join(dir, 'tls.key'), tls.keyPem, { mode: 0o600 });
const backend = await startChild<BackendInfo>(join(HERE, 'backend.ts'), []);
process.stderr.write(`cpu: ${cpuModel()}\n`);
for (const [run, workers] of values.workers.split(',').map(Number).entries()) {
  const [port, connectorBase] = [await freePort(), 20_000 + Math.floor(Math.random() * 20_000)];
  const wikiUrl = `https://wiki.localhost:${port}`;
  // A Redis of its own: no instance record of the previous run.
  const redis = await startRedis();
  const idp = await startIdentityProvider({
    ca,
    users: DEFAULT_DEV_USERS,
    clients: [{ client_id: 'bench', client_secret: 'bench-secret', redirect_uris: [`${wikiUrl}/.gatehouse/callback`] }, DEVICE_CLIENT],
    resourceServers: CONNECTOR_RESOURCE_SERVER,
  });
  const state = join(dir, `state-${run}`);
  mkdirSync(state, { mode: 0o700 });
  const config = join(dir, `gateway-${run}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      server: { host: '127.0.0.1', port, tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') } },
      identityProvider: { issuer: idp.issuer, clientId: 'bench', clientSecret: 'bench-secret', caFile: join(dir, 'ca.pem') },
      session: { secrets: [{ id: 1, secret: 'bench-workers-session-secret-0123456789-0123456789' }] },
      apps: [{ id: 'wiki', externalUrl: wikiUrl, internalUrl: backend.info.url }],
      connectors: {
        listen: { host: '127.0.0.1', port: connectorBase },
        publicUrl: `https://localhost:${connectorBase}`,
        tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
        stateDir: state,
        admin: { scope: CONNECTOR_SCOPE },
      },
      logging: { accessLog: { enabled: false } },
      store: { url: redis.url },
    }),
  );
  const serve = startNode(CLI, ['serve', '--config', config, '--workers', String(workers), '--log-level', 'warn'], { env: { GATEHOUSE_STORE_URL: '' } });
  await serve.waitFor(new RegExp(`(identity provider .* discovered[\\s\\S]*){${workers}}`), 60_000);
  const tokens = await adminTokens(idp.issuer, ca.certPem);
  const connector = await startRegisteredConnector(
    {
      connectorUrl: `https://localhost:${connectorBase}`,
      connectorCaFile: join(dir, 'ca.pem'),
      adminToken: (user = 'alice') => tokens.get(user, `${user}-password`),
    },
    join(dir, `connector-${run}`),
    ['--allow', '127.0.0.1/32'],
  );
  // One instance: tunnels are named without it (startRegisteredConnector waited for them); several: by instance.
  if (workers > 1) await connector.process.waitFor(new RegExp(`(tunnel-\\d+@gw-[0-9a-f]+ link connected[\\s\\S]*){${2 * workers}}`), 30_000);
  const browser = new BrowserClient({ ca: ca.certPem });
  await browser.signIn(`${wikiUrl}/start`, 'alice', 'alice-password');
  const cookie = await browser.jar.getCookieString(`${wikiUrl}/`);
  const pids = [serve.child.pid!, ...[...serve.stderr().matchAll(/started \(pid (\d+)\)/g)].map((match) => Number(match[1]))];
  const common = ['get', '--origin', `https://127.0.0.1:${port}`, '--host', `wiki.localhost:${port}`, '--path', '/1k', '--ca', join(dir, 'ca.pem')];
  await loadgen([...common, '--connections', values.connections, '--duration', values.warm, '--cookie', cookie]);
  const cpu = (): number => pids.reduce((sum, pid) => sum + cpuTimeMs(pid), 0);
  const [gatewayBefore, connectorBefore] = [cpu(), cpuTimeMs(connector.process.child.pid!)];
  const result = await loadgen([...common, '--connections', values.connections, '--duration', values.measure, '--cookie', cookie]);
  const [gatewayMs, connectorMs] = [cpu() - gatewayBefore, cpuTimeMs(connector.process.child.pid!) - connectorBefore];
  const per = (ms: number): string => ((ms * 1000) / Math.max(1, result.requests)).toFixed(0);
  console.log(
    `workers ${workers}: ${result.rps.toFixed(0)} req/s, p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms, errors ${result.errors}; ` +
      `CPU per request: gateway ${per(gatewayMs)} µs (${((gatewayMs / 1000 / Number(values.measure)) * 100).toFixed(0)}% of a core), connector ${per(connectorMs)} µs`,
  );
  await connector.process.stop('SIGTERM');
  await serve.stop('SIGTERM');
  await browser.close();
  await tokens.close();
  await idp.close();
  await redis.close();
}
await backend.stop();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
