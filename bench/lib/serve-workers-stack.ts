/**
 * `gatehouse serve --workers N` as a whole stack, through the real CLI: a Redis store of its own (instance records of
 * another stack would make its connector dial workers that are not there), the development identity provider, a
 * registered connector process with tunnels to every worker, and alice's sign-in. Used by `npm run bench` (its
 * workers-N variants) and bench/serve-workers.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BrowserClient } from '../../dev/lib/browser-client.ts';
import { startRegisteredConnector, type RunningConnector } from '../../dev/lib/connector-process.ts';
import { createDevCa } from '../../dev/lib/dev-ca.ts';
import { adminTokens, CONNECTOR_RESOURCE_SERVER, CONNECTOR_SCOPE, DEVICE_CLIENT, type AdminTokens } from '../../dev/lib/device-approval.ts';
import { DEFAULT_DEV_USERS, startIdentityProvider, type DevIdentityProvider } from '../../dev/lib/identity-provider/index.ts';
import { startNode, type RunningProcess } from '../../dev/lib/processes.ts';
import { startRedis, type BenchRedis } from './redis.ts';

const CLI = fileURLToPath(new URL('../../src/cli/gatehouse.ts', import.meta.url));

export interface ServeWorkersOptions {
  readonly workers: number;
  /** Where the app forwards (the benchmark's backend). */
  readonly backendUrl: string;
  /** The connector's `--tunnels` (per gateway instance, i.e. per worker). */
  readonly tunnels?: number;
}

export interface ServeWorkersStack {
  readonly workers: number;
  /** https://127.0.0.1:<port>: where a load generator connects, with `host` as the Host header. */
  readonly origin: string;
  readonly host: string;
  readonly caFile: string;
  /** The CLI's process: with one worker, the gateway itself (nothing is forked). */
  readonly primaryPid: number;
  readonly workerPids: readonly number[];
  /** The primary and every worker: the processes that are the gateway. */
  readonly gatewayPids: readonly number[];
  readonly connector: RunningConnector;
  readonly redis: BenchRedis;
  readonly serve: RunningProcess;
  /** Signs alice in through the identity provider's login form; resolves with the cookie header for the app. */
  signIn(): Promise<string>;
  /** Stops every process of the stack and removes its files. */
  stop(): Promise<void>;
}

export async function startServeWorkersStack(options: ServeWorkersOptions): Promise<ServeWorkersStack> {
  const { workers } = options;
  const tunnels = options.tunnels ?? 2;
  const dir = mkdtempSync(join(tmpdir(), `gatehouse-bench-workers-${workers}-`));
  const resources: {
    redis?: BenchRedis;
    idp?: DevIdentityProvider;
    serve?: RunningProcess;
    tokens?: AdminTokens;
    connector?: RunningConnector;
  } = {};
  const stop = async (): Promise<void> => {
    await resources.connector?.process.stop('SIGTERM');
    await resources.serve?.stop('SIGTERM');
    await resources.tokens?.close();
    await resources.idp?.close();
    await resources.redis?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ca = createDevCa({ commonName: `Gatehouse workers bench CA (${workers})` });
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, ca.certPem);
    const tls = ca.issueServerCertificate(['wiki.localhost', 'localhost', '127.0.0.1']);
    writeFileSync(join(dir, 'tls.crt'), tls.certPem);
    writeFileSync(join(dir, 'tls.key'), tls.keyPem, { mode: 0o600 });
    // Worker i listens for connectors on the base port + i - 1: a run of free ports.
    const [port, connectorBase] = [await freePort(), await freePortRun(workers)];
    const wikiUrl = `https://wiki.localhost:${port}`;
    resources.redis = await startRedis();
    resources.idp = await startIdentityProvider({
      ca,
      users: DEFAULT_DEV_USERS,
      clients: [{ client_id: 'bench', client_secret: 'bench-secret', redirect_uris: [`${wikiUrl}/.gatehouse/callback`] }, DEVICE_CLIENT],
      resourceServers: CONNECTOR_RESOURCE_SERVER,
    });
    const state = join(dir, 'state');
    mkdirSync(state, { mode: 0o700 });
    const config = join(dir, 'gateway.json');
    const tlsFiles = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
    writeFileSync(
      config,
      JSON.stringify({
        server: { host: '127.0.0.1', port, tls: tlsFiles },
        identityProvider: { issuer: resources.idp.issuer, clientId: 'bench', clientSecret: 'bench-secret', caFile },
        session: { secrets: [{ id: 1, secret: 'bench-workers-session-secret-0123456789-0123456789' }] },
        apps: [{ id: 'wiki', externalUrl: wikiUrl, internalUrl: options.backendUrl }],
        connectors: {
          listen: { host: '127.0.0.1', port: connectorBase },
          publicUrl: `https://localhost:${connectorBase}`,
          tls: tlsFiles,
          stateDir: state,
          admin: { scope: CONNECTOR_SCOPE },
        },
        logging: { accessLog: { enabled: false } },
        store: { url: resources.redis.url },
      }),
    );
    const serve = startNode(CLI, ['serve', '--config', config, '--workers', String(workers), '--log-level', 'warn'], { env: { GATEHOUSE_STORE_URL: '' } });
    resources.serve = serve;
    await serve.waitFor(new RegExp(`(identity provider .* discovered[\\s\\S]*){${workers}}`), 90_000);
    const tokens = await adminTokens(resources.idp.issuer, ca.certPem);
    resources.tokens = tokens;
    const connector = await startRegisteredConnector(
      { connectorUrl: `https://localhost:${connectorBase}`, connectorCaFile: caFile, adminToken: (user = 'alice') => tokens.get(user, `${user}-password`) },
      join(dir, 'connector'),
      ['--allow', '127.0.0.1/32', '--tunnels', String(tunnels)],
    );
    resources.connector = connector;
    // One instance: tunnels are named without it (startRegisteredConnector waited for them); several: by instance.
    if (workers > 1) await connector.process.waitFor(new RegExp(`(tunnel-\\d+@gw-[0-9a-f]+ link connected[\\s\\S]*){${tunnels * workers}}`), 60_000);
    // --workers 1 forks nothing: the CLI's process is the gateway.
    const workerPids = [...serve.stderr().matchAll(/worker \d+ started \(pid (\d+)\)/g)].map((match) => Number(match[1]));
    if (workerPids.length !== (workers > 1 ? workers : 0)) throw new Error(`expected ${workers} workers, the primary said:\n${serve.stderr()}`);
    const primaryPid = serve.child.pid!;
    return {
      workers,
      origin: `https://127.0.0.1:${port}`,
      host: `wiki.localhost:${port}`,
      caFile,
      primaryPid,
      workerPids,
      gatewayPids: [primaryPid, ...workerPids],
      connector,
      redis: resources.redis,
      serve,
      async signIn() {
        const browser = new BrowserClient({ ca: ca.certPem });
        try {
          const { response } = await browser.signIn(`${wikiUrl}/1k`, 'alice', 'alice-password');
          if (response.status !== 200) throw new Error(`sign-in through serve --workers ${workers} ended with ${response.status}`);
          return await browser.jar.getCookieString(`${wikiUrl}/1k`);
        } finally {
          await browser.close();
        }
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function listenOn(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : undefined));
    });
  });
}

async function freePort(): Promise<number> {
  const port = await listenOn(0);
  if (port === undefined) throw new Error('no free port on 127.0.0.1');
  return port;
}

/** The first of `count` consecutive ports free on 127.0.0.1 (taken from the range the system does not hand out). */
async function freePortRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 10_000);
    let free = true;
    for (let index = 0; index < count && free; index++) free = (await listenOn(base + index)) !== undefined;
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free ports on 127.0.0.1`);
}
