import { createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import { lookup } from 'node:dns';
import { once } from 'node:events';
import { Agent, fetch as undiciFetch, type RequestInit as UndiciRequestInit } from 'undici';
import { jsonLinesSink } from '../../src/audit/audit-log.ts';
import { createGatewayServer, type GatewayServer } from '../../src/gateway/standalone-server.ts';
import { DEV_ONE_TIME_CODE, startIdentityProvider, type DevIdentityProvider } from '../lib/identity-provider/index.ts';
import { createDevCa } from '../lib/dev-ca.ts';
import { adminTokens, CONNECTOR_RESOURCE_SERVER, CONNECTOR_SCOPE, DEVICE_CLIENT } from '../lib/device-approval.ts';
import { startSampleApp, type SampleApp } from './sample-app.ts';
import { startStatusApp } from './status-app.ts';

/**
 * The group the demo's apps are published through. A connector registered without a group lands in
 * "default", which serves no app here, until an administrator moves it (the admin console can).
 */
export const DEMO_GROUP = 'office';

const CONNECTOR_CLI = fileURLToPath(new URL('../../src/cli/gatehouse-connector.ts', import.meta.url));

export interface DemoOptions {
  /** Users' HTTPS port (0: any free port). */
  readonly port: number;
  /** The connector listener's port. */
  readonly connectorPort: number;
  readonly identityProviderPort: number;
  /** The admin listener's port (health, metrics and the admin console); the identity provider is told its callback URL. */
  readonly adminPort: number;
  /** Everything the demo writes: the CA, the service's and the connector's state. Emptied at start. */
  readonly dir: string;
  readonly progress: (line: string) => void;
  /** The connector's log lines (JSON) go here. */
  readonly connectorOutput?: (chunk: string) => void;
}

export interface Demo {
  readonly urls: { readonly wiki: string; readonly status: string; readonly identityProvider: string; readonly console: string };
  readonly caFile: string;
  readonly users: ReadonlyArray<{ login: string; password: string; note: string }>;
  readonly gateway: GatewayServer;
  /** Registers one more connector with alice's admin token and starts it; resolves once both its tunnels are up. */
  addConnector(name: string, group?: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The whole system on loopback, made of the parts a deployment uses: the
 * development identity provider, the gateway (users' port and connector
 * listener), a connector registered with an admin's token through the real
 * registration flow and run as its own process, and a sample internal app.
 */
export async function startDemo(options: DemoOptions): Promise<Demo> {
  const { progress } = options;
  rmSync(options.dir, { recursive: true, force: true });
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const stops: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const step of stops.reverse()) await step().catch(() => undefined);
  };

  try {
    progress('making a certificate authority for the demo');
    const ca = createDevCa({ commonName: 'Gatehouse demo CA' });
    const caFile = join(options.dir, 'demo-ca.pem');
    writeFileSync(caFile, ca.certPem);
    const tls = ca.issueServerCertificate(['wiki.localhost', 'status.localhost', 'localhost', '127.0.0.1']);
    const certFile = join(options.dir, 'gateway.crt');
    const keyFile = join(options.dir, 'gateway.key');
    writeFileSync(certFile, tls.certPem);
    writeFileSync(keyFile, tls.keyPem, { mode: 0o600 });
    // Browsers resolve *.localhost to loopback by themselves; Node's resolver does not, so the demo's own calls are told.
    const dispatcher = new Agent({
      connect: {
        ca: ca.certPem,
        lookup: (hostname, lookupOptions, callback) =>
          hostname.endsWith('.localhost') ? callback(null, [{ address: '127.0.0.1', family: 4 }]) : lookup(hostname, { ...lookupOptions, all: true }, callback),
      },
    });
    stops.push(() => dispatcher.close());
    const trustingFetch = (url: string, init?: RequestInit): Promise<Response> => undiciFetch(url, { ...(init as UndiciRequestInit), dispatcher });

    const port = options.port;
    const wiki = `https://wiki.localhost:${port}`;
    const status = `https://status.localhost:${port}`;
    const consoleOrigin = `https://localhost:${options.adminPort}`;

    progress('starting the identity provider');
    const idp: DevIdentityProvider = await startIdentityProvider({
      ca,
      port: options.identityProviderPort,
      clients: [
        {
          client_id: 'gatehouse-demo',
          client_secret: 'gatehouse-demo-client-secret',
          // The admin console signs operators in with the same client, on the admin listener's origin.
          redirect_uris: [`${wiki}/.gatehouse/callback`, `${consoleOrigin}/.gatehouse/admin/callback`],
          post_logout_redirect_uris: [`${wiki}/.gatehouse/signed-out`],
        },
        DEVICE_CLIENT,
      ],
      resourceServers: CONNECTOR_RESOURCE_SERVER,
    });
    stops.push(() => idp.close());

    progress('starting the sample internal app');
    const sample: SampleApp = await startSampleApp({ jwksUrl: `${wiki}/.gatehouse/jwks.json`, audience: wiki, fetch: trustingFetch });
    stops.push(() => sample.close());

    progress('starting the public status page');
    const statusApp = await startStatusApp();
    stops.push(() => statusApp.close());

    progress('starting the gateway');
    const gateway = createGatewayServer(
      {
        server: { host: '127.0.0.1', port, tls: { certFile, keyFile } },
        identityProvider: {
          issuer: idp.issuer,
          clientId: 'gatehouse-demo',
          clientSecret: 'gatehouse-demo-client-secret',
          caFile,
          scopes: ['openid', 'profile', 'email', 'groups'],
        },
        session: { secrets: [{ id: 1, secret: `demo-${Date.now()}-session-secret-0123456789abcdef` }] },
        mfa: { amr: ['mfa'], acr: ['urn:gatehouse:mfa'], acrValues: ['urn:gatehouse:mfa'] },
        apps: [
          {
            id: 'wiki',
            externalUrl: wiki,
            internalUrl: sample.url,
            connectorGroup: DEMO_GROUP,
            identityHeaders: { 'X-Remote-User': 'email', 'X-Remote-Groups': 'groups' },
            policies: [
              { name: 'staff only', conditions: { users: { include: ['*'] }, groups: { exclude: ['staff'] } }, grant: { block: true } },
              { name: 'MFA for the admin area', conditions: { paths: ['/admin/'] }, grant: { mfa: true } },
            ],
          },
          { id: 'status', externalUrl: status, internalUrl: statusApp.url, preauth: 'passthrough', connectorGroup: DEMO_GROUP },
        ],
        admin: { listen: { host: '127.0.0.1', port: options.adminPort }, tls: { certFile, keyFile } },
        connectors: {
          listen: { host: '127.0.0.1', port: options.connectorPort },
          stateDir: join(options.dir, 'service'),
          admin: { scope: CONNECTOR_SCOPE },
          heartbeatInterval: '10s',
        },
      },
      { audit: [jsonLinesSink(createWriteStream(join(options.dir, 'audit.jsonl'), { flags: 'a', mode: 0o600 }))] },
    );
    await gateway.listen();
    stops.push(() => gateway.close());
    await gateway.gateway.ready();
    const serviceUrl = `https://localhost:${gateway.gateway.connectors!.address()?.port ?? options.connectorPort}`;

    const serviceCaFile = join(options.dir, 'connector-listener-ca.pem');
    writeFileSync(serviceCaFile, gateway.gateway.connectors!.ca.certPem);
    let connectors = 0;
    const addConnector = async (name: string, group: string = DEMO_GROUP): Promise<void> => {
      connectors += 1;
      progress(`registering ${name} with the admin's token (OAuth device flow as alice)`);
      const tokens = await adminTokens(idp.issuer, ca.certPem);
      const token = await tokens.get('alice', 'alice-password').finally(() => tokens.close());
      const connectorState = join(options.dir, `connector-${connectors}`);
      const args = ['register', '--service', serviceUrl, '--state-dir', connectorState, '--ca-file', serviceCaFile, '--name', name, '--group', group];
      await runCli(args, token);
      progress(`starting ${name}`);
      const connector = spawn(process.execPath, [CONNECTOR_CLI, 'run', '--state-dir', connectorState, '--log-level', 'info', '--allow', '127.0.0.1/32'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      stops.push(async () => {
        if (connector.exitCode === null && connector.signalCode === null) {
          connector.kill('SIGTERM');
          await once(connector, 'exit');
        }
      });
      await waitForTunnels(connector, options.connectorOutput);
    };
    // Two connectors in one group: either keeps the apps reachable while the other is away.
    await addConnector('demo-connector-1');
    await addConnector('demo-connector-2');

    return {
      urls: { wiki, status, identityProvider: idp.issuer, console: `${consoleOrigin}/.gatehouse/admin/` },
      caFile,
      users: [
        { login: 'alice', password: 'alice-password', note: 'admin (the admin console lets her in), staff, always signs in with MFA' },
        { login: 'bob', password: 'bob-password', note: 'staff, no MFA: the admin area refuses him' },
        { login: 'dana', password: 'dana-password', note: `staff, MFA on request: one-time code ${DEV_ONE_TIME_CODE}` },
        { login: 'mallory', password: 'mallory-password', note: 'not staff: access denied by policy' },
      ],
      gateway,
      addConnector,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }

  async function runCli(args: string[], token: string): Promise<void> {
    const child = spawn(process.execPath, [CONNECTOR_CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, GATEHOUSE_CONNECTOR_TOKEN: token },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`gatehouse-connector ${args[0]} failed:\n${output}`);
  }
}

function waitForTunnels(connector: ChildProcess, output?: (chunk: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`the connector did not connect in time:\n${text}`)), 30_000);
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      output?.(chunk.toString());
      if (/tunnel-1 link connected/.test(text) && /tunnel-2 link connected/.test(text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    connector.stdout?.on('data', (chunk: Buffer) => output?.(chunk.toString()));
    connector.stderr?.on('data', onData);
    connector.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the connector exited (${code}):\n${text}`));
    });
  });
}
