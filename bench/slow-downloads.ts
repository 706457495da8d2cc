/**
 * Memory of the gateway and the connector under many slow downloads through
 * the tunnel, for the target "RSS growth < 64 MiB per process with 1,000
 * concurrent slow downloads": a slow reader must cost its flow-control
 * windows and socket buffers, bounded, not its whole body in memory.
 *
 *   node bench/slow-downloads.ts [--clients 1000] [--mib 8] [--read-kib 16] [--interval-ms 100] [--hold-s 15] [--finish cancel|read] [--warmup 16]
 *
 * Processes: the bench backend, the gateway service with its connector
 * listener (pass-through app, so no sign-in), a real connector with two
 * tunnels, and the clients in a process of their own. RSS after a full GC
 * before the downloads, at the peak (every download open and its buffers
 * full, after --hold-s), and once they have ended; the gateway collects over
 * IPC, the connector through its loopback inspector, as in bench/run.ts.
 * After the hold the clients cancel (the default: the run stays bounded) or
 * read the rest at full speed.
 */
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { parseArgs } from 'node:util';
import type { BackendInfo } from './backend.ts';
import type { GatewayServiceInfo, GatewayServiceStats } from './gateway-service.ts';
import type { SlowClientStats } from './slow-download-client.ts';
import { startChild, type Child } from './lib/child.ts';
import { registerConnector, runConnector } from './lib/connector.ts';
import { inspectorUrl, memoryAfterGc } from './lib/inspector-gc.ts';
import { MiB, processMemory } from './lib/procfs.ts';
import { report, type ProcessFigures } from './lib/slow-downloads-report.ts';
import type { RunningProcess } from '../dev/lib/processes.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    mib: { type: 'string', default: '8' },
    'read-kib': { type: 'string', default: '16' },
    'interval-ms': { type: 'string', default: '100' },
    'hold-s': { type: 'string', default: '15' },
    finish: { type: 'string', default: 'cancel' },
    warmup: { type: 'string', default: '16' },
  },
});
const CLIENTS = Number(values.clients);
const BYTES = Number(values.mib) * MiB;
const READ_BYTES = Number(values['read-kib']) * 1024;
const INTERVAL_MS = Number(values['interval-ms']);
const HOLD_MS = Number(values['hold-s']) * 1000;
const FINISH = values.finish;
if (FINISH !== 'cancel' && FINISH !== 'read') throw new Error('--finish is cancel or read');
const WARMUP = Number(values.warmup);
const TARGET_MIB = 64;

const log = (line: string): void => void process.stderr.write(`[slow-downloads ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One small GET on a new connection while the downloads hold their streams: ms to its whole answer, undefined if it failed or took over 10 s. */
function probe(origin: string, host: string, ca: string, cookie?: string): Promise<number | undefined> {
  const url = new URL(origin);
  const begun = performance.now();
  return new Promise((resolve) => {
    const req = httpsRequest(
      {
        host: url.hostname,
        port: Number(url.port),
        path: '/1k',
        headers: { host, ...(cookie ? { cookie } : {}) },
        servername: host.replace(/:\d+$/, ''),
        ca,
        agent: false,
        timeout: 10_000,
      },
      (response) => {
        response.resume();
        response.once('end', () => resolve(response.statusCode === 200 ? performance.now() - begun : undefined));
        response.once('error', () => resolve(undefined));
      },
    );
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(undefined));
    req.end();
  });
}
const rssOf = (pid: number): number => processMemory(pid).rss;

interface Measured {
  readonly label: string;
  readonly pid: number;
  /** A full GC in the process; resolves with its memory usage. */
  readonly gc: () => Promise<NodeJS.MemoryUsage>;
}

let backend: Child<BackendInfo> | undefined;
let service: Child<GatewayServiceInfo> | undefined;
let connector: RunningProcess | undefined;
let client: Child<{ pid: number }> | undefined;

async function stopAll(): Promise<void> {
  await Promise.allSettled([client?.stop(), connector?.stop('SIGTERM')]);
  await Promise.allSettled([service?.stop(), backend?.stop()]);
}

async function main(): Promise<string> {
  backend = await startChild<BackendInfo>('bench/backend.ts', []);
  service = await startChild<GatewayServiceInfo>('bench/gateway-service.ts', ['--backend', backend.info.url, '--connectors'], { nodeArgs: ['--expose-gc'] });
  const options = { name: 'bench-slow', tunnels: 2, nodeOptions: '--inspect=127.0.0.1:0' };
  connector = await runConnector(await registerConnector(service, options), options);
  const running = connector;
  const gateway = service;
  const measured: Measured[] = [
    { label: 'gateway service', pid: gateway.pid, gc: () => gateway.call<NodeJS.MemoryUsage>('gc') },
    { label: 'connector (2 TLS tunnels)', pid: running.child.pid!, gc: () => memoryAfterGc(inspectorUrl(running.stderr())) },
  ];
  log(`backend ${backend.info.url}, gateway ${gateway.info.origin} (pid ${gateway.pid}), connector pid ${running.child.pid}`);

  const target = { origin: gateway.info.origin, host: gateway.info.hosts.passthrough, caFile: gateway.info.caFile, bytes: BYTES };
  if (WARMUP > 0) {
    // A few downloads at full speed first: "before" is then a process that has moved bodies (code compiled, TLS and allocator pools in use), not a cold one.
    const warm = await startChild<{ pid: number }>('bench/slow-download-client.ts', []);
    try {
      await warm.call('start', { ...target, clients: WARMUP, readBytes: 0, intervalMs: 0, fast: true });
      await warm.call('finish', { mode: 'read', timeoutMs: 120_000 }, 150_000);
      const stats = await warm.call<SlowClientStats>('stats');
      log(`warm-up: ${stats.completed}/${WARMUP} downloads completed${stats.failed ? `, failed: ${JSON.stringify(stats.errors)}` : ''}`);
    } finally {
      await warm.stop();
    }
  }

  const afterGc = async (): Promise<Array<{ rss: number; js: number }>> => {
    const out = [];
    for (const entry of measured) {
      const usage = await entry.gc();
      out.push({ rss: rssOf(entry.pid), js: usage.heapUsed + usage.external });
    }
    return out;
  };
  const before = await afterGc();
  log(`before: ${measured.map((entry, i) => `${entry.label} ${Math.round(before[i]!.rss / MiB)} MiB`).join(', ')}`);

  client = await startChild<{ pid: number }>('bench/slow-download-client.ts', []);
  const clients = client;
  const peakSampled = measured.map(() => 0);
  let maxTunnelStreams = 0;
  const sample = async (): Promise<SlowClientStats> => {
    measured.forEach((entry, i) => (peakSampled[i] = Math.max(peakSampled[i]!, rssOf(entry.pid))));
    const stats = await gateway.call<GatewayServiceStats>('stats');
    const inFlight = stats.sessions.reduce((sum, session) => sum + (session.closed ? 0 : session.inFlight), 0);
    maxTunnelStreams = Math.max(maxTunnelStreams, inFlight);
    const downloads = await clients.call<SlowClientStats>('stats');
    log(
      `open ${downloads.open}/${downloads.started}, tunnel streams ${inFlight}, completed ${downloads.completed}, failed ${downloads.failed}, ` +
        `read ${Math.round(downloads.bytesRead / MiB)} MiB; RSS ${measured.map((entry) => `${entry.label} ${Math.round(rssOf(entry.pid) / MiB)} MiB`).join(', ')}`,
    );
    return downloads;
  };

  // Signed in before the downloads start: a sign-in during them would take part of the hold.
  const cookie = await gateway.call<string>('cookie');
  const started = Date.now();
  await clients.call('start', { ...target, clients: CLIENTS, readBytes: READ_BYTES, intervalMs: INTERVAL_MS });
  log(`${CLIENTS} downloads of ${values.mib} MiB started; holding ${HOLD_MS / 1000} s`);
  // What a new visitor gets meanwhile: of another app of the connector group (served from its own share of the
  // group's streams), and of the crowd's app (which waits for its share once the crowd holds all of it).
  const other: Promise<number | undefined>[] = [];
  const same: Promise<number | undefined>[] = [];
  const ca = readFileSync(target.caFile, 'utf8');
  while (Date.now() - started < HOLD_MS) {
    other.push(probe(target.origin, gateway.info.hosts.preauth, ca, cookie));
    same.push(probe(target.origin, target.host, ca));
    await sleep(1000);
    await sample();
  }
  const holdSeconds = (Date.now() - started) / 1000;
  const atPeak = await sample();
  const peak = measured.map((entry) => rssOf(entry.pid));
  const peakGc = await afterGc();
  log(`peak (${atPeak.open} open): after GC ${measured.map((entry, i) => `${entry.label} ${Math.round(peakGc[i]!.rss / MiB)} MiB`).join(', ')}`);

  const finishing = Date.now();
  log(FINISH === 'cancel' ? 'cancelling every download' : 'reading the rest at full speed');
  await clients.call('finish', { mode: FINISH, timeoutMs: 300_000 }, 330_000);
  // The tunnel streams close a moment after the clients do: "after" is measured once none is left (bounded wait).
  for (let waited = 0; waited < 20; waited++) {
    const stats = await gateway.call<GatewayServiceStats>('stats');
    if (stats.sessions.every((session) => session.closed || session.inFlight === 0)) break;
    await sleep(1000);
  }
  const finishSeconds = (Date.now() - finishing) / 1000;
  const final = await sample();
  const after = await afterGc();

  const processes: ProcessFigures[] = measured.map((entry, i) => ({
    label: entry.label,
    beforeGc: before[i]!.rss,
    peakSampled: peakSampled[i]!,
    peak: peak[i]!,
    peakGc: peakGc[i]!.rss,
    peakJs: peakGc[i]!.js,
    afterGc: after[i]!.rss,
    hwm: processMemory(entry.pid).peak,
  }));
  return report({
    settings: {
      clients: CLIENTS,
      'MiB per download': Number(values.mib),
      'read per tick': `${values['read-kib']} KiB`,
      interval: `${INTERVAL_MS} ms`,
      hold: `${HOLD_MS / 1000} s`,
      finish: FINISH,
      'warm-up downloads': WARMUP,
      tunnels: 2,
      'Node.js': process.version,
    },
    processes,
    client: final,
    maxTunnelStreams,
    holdSeconds,
    finishSeconds,
    targetMiB: TARGET_MIB,
    probes: [
      { label: 'another app of the group (signed in)', ms: await Promise.all(other) },
      { label: "the downloads' app", ms: await Promise.all(same) },
    ],
  });
}

try {
  const table = await main();
  await stopAll();
  process.stdout.write(`${table}\n`);
} catch (error) {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  await stopAll();
  process.exitCode = 1;
}
