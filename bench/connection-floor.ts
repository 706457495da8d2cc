/**
 * What client connections alone cost: RSS after a full GC of the process that
 * terminates them, with N idle keep-alive HTTPS connections open (each served
 * one 1 KiB GET), against the same process before. Measured for the baseline
 * (Express + http-proxy-middleware behind the same kind of HTTPS listener,
 * bench/direct-proxy.ts) and for the gateway service (pass-through app through
 * a connector's tunnel), one after the other in one run. It is the floor under
 * "RSS < 64 MiB with 1,000 concurrent slow downloads": those downloads need
 * 1,000 client connections first (docs/benchmarks.md).
 *
 *   node bench/connection-floor.ts [--connections 1000] [--rounds 2]
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { parseArgs } from 'node:util';
import type { BackendInfo } from './backend.ts';
import type { DirectProxyInfo } from './direct-proxy.ts';
import type { GatewayServiceInfo } from './gateway-service.ts';
import { startChild, type Child } from './lib/child.ts';
import { registerConnector, runConnector } from './lib/connector.ts';
import { MiB, processMemory } from './lib/procfs.ts';

const { values } = parseArgs({ options: { connections: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '2' } } });
const CONNECTIONS = Number(values.connections);
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(CONNECTIONS) || CONNECTIONS < 1 || !Number.isInteger(ROUNDS) || ROUNDS < 1) {
  throw new Error('--connections and --rounds must be whole numbers of at least 1');
}
const WARMUP_REQUESTS = 200;
const log = (line: string): void => void process.stderr.write(`[connection-floor ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

interface Target {
  readonly url: URL;
  readonly host: string;
  readonly ca: string;
  /** The process that terminates the client connections. */
  readonly pid: number;
  gc(): Promise<unknown>;
  stop(): Promise<unknown>;
}

function get(target: Target, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.url.hostname,
        port: Number(target.url.port),
        path: '/1k',
        headers: { host: target.host },
        servername: target.host.replace(/:\d+$/, ''),
        ca: target.ca,
        agent,
      },
      (response) => {
        response.resume();
        response.once('end', () => resolve(response.statusCode ?? 0));
      },
    );
    req.once('error', reject);
    req.end();
  });
}

async function rssAfterGc(target: Target): Promise<number> {
  await target.gc();
  return processMemory(target.pid).rss;
}

async function startDirect(backend: Child<BackendInfo>): Promise<Target> {
  const direct = await startChild<DirectProxyInfo>('bench/direct-proxy.ts', ['--backend', backend.info.url], { nodeArgs: ['--expose-gc'] });
  return {
    url: new URL(direct.info.url),
    host: direct.info.host,
    ca: readFileSync(direct.info.caFile, 'utf8'),
    pid: direct.pid,
    gc: () => direct.call('gc'),
    stop: () => direct.stop(),
  };
}

async function startGatehouse(backend: Child<BackendInfo>): Promise<Target> {
  const service = await startChild<GatewayServiceInfo>('bench/gateway-service.ts', ['--backend', backend.info.url, '--connectors'], {
    nodeArgs: ['--expose-gc'],
  });
  const options = { name: 'bench-floor', tunnels: 2 };
  const connector = await runConnector(await registerConnector(service, options), options);
  return {
    url: new URL(service.info.origin),
    host: service.info.hosts.passthrough,
    ca: readFileSync(service.info.caFile, 'utf8'),
    pid: service.pid,
    gc: () => service.call('gc'),
    stop: async () => {
      await connector.stop('SIGTERM');
      await service.stop();
    },
  };
}

interface Floor {
  readonly before: number;
  readonly open: number;
  readonly connections: number;
}

async function measure(target: Target): Promise<Floor> {
  const warm = new Agent({ keepAlive: true, maxSockets: 16 });
  for (let n = 0; n < WARMUP_REQUESTS; n++) await get(target, warm);
  warm.destroy();
  const before = await rssAfterGc(target);
  // All at once, so that each request opens a connection of its own; the agent keeps every one of them.
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS, maxFreeSockets: CONNECTIONS });
  try {
    const statuses = await Promise.all(Array.from({ length: CONNECTIONS }, () => get(target, agent)));
    const failed = statuses.filter((status) => status !== 200).length;
    if (failed > 0) throw new Error(`${failed} of ${CONNECTIONS} requests did not answer 200`);
    const connections = Object.values(agent.freeSockets).reduce((sum, sockets) => sum + (sockets?.length ?? 0), 0);
    const open = await rssAfterGc(target);
    return { before, open, connections };
  } finally {
    agent.destroy();
  }
}

const backend = await startChild<BackendInfo>('bench/backend.ts', []);
const rows: string[] = [];
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [label, start] of [
      ['direct: Express + http-proxy-middleware', startDirect],
      ['Gatehouse gateway service (tunnel)', startGatehouse],
    ] as const) {
      const target = await start(backend);
      try {
        const floor = await measure(target);
        const growth = floor.open - floor.before;
        log(`round ${round}, ${label}: ${floor.connections} idle connections, +${(growth / MiB).toFixed(0)} MiB`);
        rows.push(
          `| ${round} | ${label} | ${floor.connections} | ${(floor.before / MiB).toFixed(0)} MiB | ${(floor.open / MiB).toFixed(0)} MiB | +${(growth / MiB).toFixed(0)} MiB | ${(growth / floor.connections / 1024).toFixed(0)} KiB |`,
        );
      } finally {
        await target.stop();
      }
    }
  }
} finally {
  await backend.stop();
}
process.stdout.write(
  [
    `RSS after a full GC of the process terminating ${CONNECTIONS} idle keep-alive HTTPS connections, each after one 1 KiB GET (Node.js ${process.version}):`,
    '',
    '| round | process | connections open | before | with them open | growth | per connection |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...rows,
    '',
  ].join('\n'),
);
