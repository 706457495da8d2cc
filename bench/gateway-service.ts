/**
 * Gatehouse's cloud side for the benchmark and the endurance test, in its
 * own process, made of the parts a deployment uses: the development identity
 * provider (a real oidc-provider), the gateway on an HTTPS server with a
 * certificate from a throwaway CA, optionally the connector listener, and its
 * apps pointed at the bench backend process.
 *
 *   node bench/gateway-service.ts --backend URL [--connectors] [--ws-group] [--store-url URL]
 *
 * Apps: wiki.gatehouse.test (pre-auth, session gate on), open.gatehouse.test
 * (pass-through), and with --ws-group unknown.gatehouse.test (pass-through,
 * connector group "ws", for a connector on the WebSocket transport). With
 * --store-url (e.g. redis://127.0.0.1:6379) the gateway keeps its state there.
 *
 * Commands over IPC (bench/lib/child.ts): adminToken, cookie (signs alice
 * in, returns the Cookie header for the pre-auth app), stats (memory and,
 * per tunnel session, TunnelSession.listenerTotals()), gc (with --expose-gc), profileStart and
 * profileStop { file } (a V8 CPU profile of this process, for bench --profile).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startCloud } from './lib/cloud.ts';
import { fullGc, serveParent } from './lib/child.ts';

export interface GatewayServiceInfo {
  readonly pid: number;
  /** Where to connect: https://127.0.0.1:PORT (send the app's Host header). */
  readonly origin: string;
  readonly hosts: { readonly preauth: string; readonly passthrough: string; readonly passthroughWs: string };
  /** PEM of the CA that signed the gateway's certificate. */
  readonly caFile: string;
  readonly connectorUrl: string;
  readonly connectorCaFile: string;
}

export interface TunnelSessionStats {
  readonly id: string;
  readonly connectorId: string;
  readonly group: string;
  readonly healthy: boolean;
  readonly closed: boolean;
  readonly inFlight: number;
  readonly streamsOpened: number;
  readonly listeners: { readonly session: number; readonly transport: number };
}

export interface GatewayServiceStats {
  readonly memory: NodeJS.MemoryUsage;
  /** Session store calls since start. */
  readonly storeOps: number;
  readonly sessions: TunnelSessionStats[];
}

const { values } = parseArgs({
  options: { backend: { type: 'string' }, connectors: { type: 'boolean' }, 'ws-group': { type: 'boolean' }, 'store-url': { type: 'string' } },
});
const backend = values.backend;
if (!backend) throw new Error('--backend URL is required');

const cloud = await startCloud({
  backend,
  connectors: values.connectors === true,
  wsGroup: values['ws-group'] === true,
  ...(values['store-url'] !== undefined ? { storeUrl: values['store-url'] } : {}),
});
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-service-'));
const caFile = join(dir, 'gateway-ca.pem');
writeFileSync(caFile, cloud.ca.certPem);
const hostOf = (url: string): string => new URL(url).host;
let profiler: Session | undefined;

serveParent<GatewayServiceInfo>(
  {
    pid: process.pid,
    origin: `https://127.0.0.1:${cloud.port}`,
    hosts: { preauth: hostOf(cloud.urls.wiki), passthrough: hostOf(cloud.urls.open), passthroughWs: hostOf(cloud.urls.unknown) },
    caFile,
    connectorUrl: cloud.connectorUrl,
    connectorCaFile: cloud.connectorCaFile,
  },
  {
    adminToken: () => cloud.adminToken('alice'),
    cookie: async () => {
      const browser = cloud.browser();
      try {
        const { response } = await browser.signIn(`${cloud.urls.wiki}/1k`, 'alice', cloud.password('alice'));
        if (response.status !== 200) throw new Error(`sign-in ended with ${response.status}`);
        return browser.jar.getCookieStringSync(`${cloud.urls.wiki}/1k`);
      } finally {
        await browser.close();
      }
    },
    stats: (): GatewayServiceStats => ({
      memory: process.memoryUsage(),
      storeOps: cloud.storeOps(),
      sessions: (cloud.gateway.connectors?.tunnels.sessions() ?? []).map((session) => ({
        id: session.id,
        connectorId: session.connectorId,
        group: session.group,
        healthy: session.healthy,
        closed: session.closed,
        inFlight: session.inFlight,
        streamsOpened: session.streamsOpened,
        listeners: session.listenerTotals(),
      })),
    }),
    gc: fullGc,
    profileStart: async () => {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: 500 });
      await profiler.post('Profiler.start');
    },
    profileStop: async (args) => {
      if (!profiler) throw new Error('profileStart first');
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = undefined;
      writeFileSync(String(args['file']), JSON.stringify(profile));
    },
  },
  async () => {
    profiler?.disconnect();
    await cloud.close();
    rmSync(dir, { recursive: true, force: true });
  },
);
