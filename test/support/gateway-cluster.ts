/**
 * Several real `gatehouse serve` processes on one real redis-server, as a
 * scaled-out deployment runs them: a round-robin TCP balancer in front of
 * their users' ports and another in front of their connector listeners (no
 * stickiness), one identity provider, one backend, and real
 * `gatehouse-connector run` processes registered through the balancer.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { BrowserClient } from '../../dev/lib/browser-client.ts';
import { runConnectorCli, startRegisteredConnector, type CliResult, type RunningConnector } from '../../dev/lib/connector-process.ts';
import { createDevCa, type DevCa } from '../../dev/lib/dev-ca.ts';
import { adminTokens, CONNECTOR_RESOURCE_SERVER, CONNECTOR_SCOPE, DEVICE_CLIENT } from '../../dev/lib/device-approval.ts';
import { DEFAULT_DEV_USERS, startIdentityProvider, type DevIdentityProvider } from '../../dev/lib/identity-provider/index.ts';
import { startNode, type RunningProcess } from '../../dev/lib/processes.ts';
import { startEchoBackend, type EchoBackend } from './backend.ts';
import { freePort } from './free-port.ts';
import { httpsText } from './https-text.ts';
import { toLoopback } from './loopback.ts';
import { startRedisServer, type RedisServer } from './redis-server.ts';
import { startTcpBalancer, type TcpBalancer } from './tcp-balancer.ts';

const GATEHOUSE_CLI = fileURLToPath(new URL('../../src/cli/gatehouse.ts', import.meta.url));
const CLIENT_ID = 'gatehouse-cluster';
const CLIENT_SECRET = 'gatehouse-cluster-client-secret';
const SECRET = 'cluster-session-secret-shared-by-every-instance-0123456789';

export interface ClusterInstance {
  readonly name: string;
  readonly port: number;
  readonly connectorPort: number;
  process: RunningProcess | undefined;
  /** Starts (again) the instance's process; resolves when it listens and its store answers. */
  start(): Promise<void>;
  /** SIGKILL: a crash, nothing drained. */
  kill(): Promise<void>;
}

export interface GatewayCluster {
  readonly redis: RedisServer;
  readonly idp: DevIdentityProvider;
  readonly ca: DevCa;
  readonly backend: EchoBackend;
  readonly instances: readonly ClusterInstance[];
  readonly users: TcpBalancer;
  readonly connectorBalancer: TcpBalancer;
  /** The published app, as users reach it: through the balancer. */
  readonly wikiUrl: string;
  readonly connectors: RunningConnector[];
  browser(): BrowserClient;
  /** Registers a connector through the balancer and runs it. */
  addConnector(): Promise<RunningConnector>;
  /** Only registers one (`gatehouse-connector register` through the balancer), and says how it went. */
  register(name: string): Promise<CliResult>;
  /** One request to the app on a new connection, straight to one instance as the balancer would send it there, or through the balancer. */
  requestVia(instance: ClusterInstance | 'balancer', path: string, cookie: string): Promise<{ status: number; body: string }>;
  /** A WebSocket to the app's echo, opened through one instance. */
  webSocketVia(instance: ClusterInstance, cookie: string): WebSocket;
  close(): Promise<void>;
}

/**
 * The development identity provider as gateways of a cluster (instances or
 * workers) use it: the dev users, one confidential client whose redirect URIs
 * are the app's, and the device client and resource server that connector
 * registration asks for.
 */
export function startClusterIdentityProvider(
  ca: DevCa,
  appUrl: string,
  client: { readonly clientId: string; readonly clientSecret: string },
): Promise<DevIdentityProvider> {
  return startIdentityProvider({
    ca,
    users: DEFAULT_DEV_USERS,
    clients: [
      {
        client_id: client.clientId,
        client_secret: client.clientSecret,
        redirect_uris: [`${appUrl}/.gatehouse/callback`],
        post_logout_redirect_uris: [`${appUrl}/.gatehouse/signed-out`],
      },
      DEVICE_CLIENT,
    ],
    resourceServers: CONNECTOR_RESOURCE_SERVER,
  });
}

export async function startGatewayCluster(options: { readonly instances: number }): Promise<GatewayCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cluster-'));
  const stops: Array<() => Promise<unknown>> = [];
  const close = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const redis = await startRedisServer();
    stops.push(() => redis.close());
    const ca = createDevCa({ commonName: 'Gatehouse cluster test CA' });
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, ca.certPem);
    const tls = ca.issueServerCertificate(['wiki.localhost', 'localhost', '127.0.0.1']);
    writeFileSync(join(dir, 'tls.crt'), tls.certPem);
    writeFileSync(join(dir, 'tls.key'), tls.keyPem, { mode: 0o600 });

    const ports = await Promise.all(Array.from({ length: options.instances }, async () => ({ port: await freePort(), connectorPort: await freePort() })));
    const users = await startTcpBalancer(ports.map(({ port }) => port));
    stops.push(() => users.close());
    const connectorBalancer = await startTcpBalancer(ports.map(({ connectorPort }) => connectorPort));
    stops.push(() => connectorBalancer.close());
    const wikiUrl = `https://wiki.localhost:${users.port}`;

    const backend = await startEchoBackend();
    stops.push(() => backend.close());
    const idp = await startClusterIdentityProvider(ca, wikiUrl, { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    stops.push(() => idp.close());

    const instances: ClusterInstance[] = ports.map(({ port, connectorPort }, index) => {
      const name = String.fromCharCode(65 + index);
      const configFile = join(dir, `gateway-${name}.json`);
      mkdirSync(join(dir, `state-${name}`), { mode: 0o700 });
      writeFileSync(
        configFile,
        JSON.stringify({
          server: { host: '127.0.0.1', port, tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') } },
          identityProvider: { issuer: idp.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, caFile, scopes: ['openid', 'profile', 'email', 'groups'] },
          session: { secrets: [{ id: 1, secret: SECRET }] },
          apps: [{ id: 'wiki', externalUrl: wikiUrl, internalUrl: backend.url }],
          connectors: {
            listen: { host: '127.0.0.1', port: connectorPort },
            publicUrl: `https://localhost:${connectorBalancer.port}`,
            advertiseUrl: `https://localhost:${connectorPort}`,
            tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
            stateDir: join(dir, `state-${name}`),
            heartbeatInterval: '1s',
            admin: { scope: CONNECTOR_SCOPE },
          },
          store: { url: redis.url },
        }),
      );
      const instance: ClusterInstance = {
        name,
        port,
        connectorPort,
        process: undefined,
        async start() {
          const running = startNode(GATEHOUSE_CLI, ['serve', '--config', configFile, '--log-level', 'warn'], { env: { GATEHOUSE_STORE_URL: '' } });
          instance.process = running;
          await running.waitFor(/identity provider .* discovered/, 30_000);
        },
        async kill() {
          await instance.process?.stop('SIGKILL');
        },
      };
      stops.push(async () => instance.process?.stop('SIGTERM'));
      return instance;
    });
    for (const instance of instances) await instance.start();

    const tokens = await adminTokens(idp.issuer, ca.certPem);
    stops.push(() => tokens.close());
    const connectors: RunningConnector[] = [];
    const browsers: BrowserClient[] = [];
    stops.push(async () => Promise.all(browsers.map((browser) => browser.close())));
    const sockets = new Set<WebSocket>();
    stops.push(() => {
      for (const socket of sockets) socket.terminate();
      return Promise.resolve();
    });

    return {
      redis,
      idp,
      ca,
      backend,
      instances,
      users,
      connectorBalancer,
      wikiUrl,
      connectors,
      browser() {
        const browser = new BrowserClient({ ca: ca.certPem });
        browsers.push(browser);
        return browser;
      },
      async addConnector() {
        const connector = await startRegisteredConnector(
          {
            connectorUrl: `https://localhost:${connectorBalancer.port}`,
            connectorCaFile: caFile,
            adminToken: (user = 'alice') => tokens.get(user, `${user}-password`),
          },
          join(dir, `connector-${connectors.length + 1}`),
          ['--allow', '127.0.0.1/32'],
        );
        connectors.push(connector);
        stops.push(() => connector.process.stop('SIGTERM'));
        return connector;
      },
      async register(name) {
        const token = await tokens.get('alice', 'alice-password');
        return runConnectorCli(
          ['register', '--service', `https://localhost:${connectorBalancer.port}`, '--state-dir', join(dir, `register-${name}`), '--ca-file', caFile],
          { GATEHOUSE_CONNECTOR_TOKEN: token },
        );
      },
      requestVia(instance, path, cookie) {
        return httpsText({
          host: '127.0.0.1',
          port: instance === 'balancer' ? users.port : instance.port,
          path,
          servername: 'wiki.localhost',
          ca: ca.certPem,
          headers: { host: `wiki.localhost:${users.port}`, cookie, accept: 'application/json' },
        });
      },
      webSocketVia(instance, cookie) {
        const socket = new WebSocket(`wss://127.0.0.1:${instance.port}/ws`, {
          ca: ca.certPem,
          lookup: toLoopback,
          headers: { host: `wiki.localhost:${users.port}`, cookie, origin: wikiUrl },
          perMessageDeflate: false,
        });
        socket.on('error', () => undefined);
        sockets.add(socket);
        return socket;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A call with an admin's bearer token to one instance's connector listener (the cluster's CA, loopback). */
export function callInstanceAsAdmin(
  cluster: GatewayCluster,
  port: number,
  path: string,
  token: string,
  method: 'GET' | 'POST' = 'GET',
): Promise<{ status: number; body: string }> {
  return httpsText({ host: '127.0.0.1', port, path, method, servername: 'localhost', ca: cluster.ca.certPem, headers: { authorization: `Bearer ${token}` } });
}
