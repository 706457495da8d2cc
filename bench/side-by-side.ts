/**
 * A small side-by-side harness for checking the main benchmark
 * (docs/benchmark-method.md): only the processes under test, wrk -t1 as the
 * load, and the CPU time of every process per request, in µs, from the
 * scheduler's own counts (bench/lib/thread-cpu.ts), next to requests/s.
 * Variants are interleaved and their order rotates from round to round; every
 * run is printed, then the median and the range over the rounds.
 *
 *   node bench/side-by-side.ts [--variants direct,gw-pass,gw-gate,tunnel-pass,tunnel-gate]
 *       [--concurrency 1,16,64] [--seconds 8] [--settle 2] [--rounds 3]
 *       [--direct LABEL=ARGS]...   more baselines: bench/direct-proxy.ts with ARGS (space-separated)
 *       [--idle]                   also start what `npm run bench` keeps idle beside them (a WebSocket connector,
 *                                  a Redis-store service with its connector when redis-server is installed)
 *       [--freeze]                 SIGSTOP every process not under test during each measured run
 *       [--tuned='NODE FLAGS']     every Gatehouse variant also as <key>+tuned: its service started again with these node
 *                                  flags (e.g. --max-semi-space-size=8), in the same runs
 *       [--nice=N]                 run this script and everything it starts at nice N (e.g. -20, as root): on a machine
 *                                  shared with other work, the processes under test then get the cores first
 *       [--json FILE]
 *       [--profile DIR]            then one more run per variant and concurrency with a V8 CPU profile of the proxy (and
 *                                  the connector) over exactly that run: self time per function in µs per request
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BackendInfo } from './backend.ts';
import type { DirectProxyInfo } from './direct-proxy.ts';
import type { GatewayServiceInfo } from './gateway-service.ts';
import { startChild, type Child } from './lib/child.ts';
import { registerConnector, runConnector } from './lib/connector.ts';
import { summarizeProfile } from './lib/cpu-profile.ts';
import { inspectorUrl } from './lib/inspector-gc.ts';
import { startProfile } from './lib/inspector-profile.ts';
import { hasRedisServer, startRedis, type BenchRedis } from './lib/redis.ts';
import { loadAverage1, threadCpuNs, threadSchedstat } from './lib/thread-cpu.ts';
import type { RunningProcess } from '../dev/lib/processes.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    variants: { type: 'string', default: 'direct,gw-pass,gw-gate,tunnel-pass,tunnel-gate' },
    concurrency: { type: 'string', default: '1,16,64' },
    seconds: { type: 'string', default: '8' },
    settle: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    direct: { type: 'string', multiple: true, default: [] },
    idle: { type: 'boolean', default: false },
    freeze: { type: 'boolean', default: false },
    json: { type: 'string' },
    profile: { type: 'string' },
    nice: { type: 'string' },
    tuned: { type: 'string' },
  },
});
const SECONDS = Number(values.seconds);
const SETTLE = Number(values.settle);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = values.concurrency.split(',').map(Number);
const wanted = new Set(values.variants.split(','));
if (spawnSync('wrk', ['--version']).error) throw new Error('wrk is not installed (apt-get install -y wrk)');
// Children inherit it (Linux keeps nice per thread; new threads and processes take their creator's). With autogroup
// scheduling on, nice orders threads only within their session's group, and the groups share the cores evenly: the
// group's own nice (/proc/self/autogroup) is what puts this session ahead of the others, until it is set back at the end.
const AUTOGROUP = '/proc/self/autogroup';
const autogroupBefore = values.nice !== undefined && existsSync(AUTOGROUP) ? /nice (-?\d+)/.exec(readFileSync(AUTOGROUP, 'utf8'))?.[1] : undefined;
if (values.nice !== undefined) {
  setPriority(Number(values.nice));
  if (autogroupBefore !== undefined) writeFileSync(AUTOGROUP, values.nice);
}
const log = (line: string): void => void process.stderr.write(`${line}\n`);

interface Variant {
  readonly key: string;
  readonly origin: string;
  readonly host: string;
  readonly cookie?: () => Promise<string>;
  /** The processes that serve a request besides the backend: the proxy, and the connector if any. */
  readonly pids: readonly number[];
  /** Their inspector URLs, with --profile. */
  readonly inspectors: readonly string[];
  /** Express + http-proxy-middleware (bench/direct-proxy.ts) rather than Gatehouse. */
  readonly baseline?: boolean;
}

const INSPECT = '--inspect=127.0.0.1:0';
const childOptions: { nodeArgs?: string[] } = values.profile ? { nodeArgs: [INSPECT] } : {};
const inspectorOf = (stderr: () => string): string => (values.profile ? inspectorUrl(stderr()) : '');

const children: Array<Child<unknown>> = [];
const connectors: RunningProcess[] = [];
const cleanups: Array<() => unknown> = [];
let redis: BenchRedis | undefined;

async function main(): Promise<void> {
  const backend = await startChild<BackendInfo>(join(HERE, 'backend.ts'), []);
  children.push(backend);
  const variants: Variant[] = [];
  const directs: Array<[string, string[]]> = [
    ...(wanted.has('direct') ? [['direct', []] as [string, string[]]] : []),
    ...values.direct.map((spec): [string, string[]] => {
      const at = spec.indexOf('=');
      return [
        spec.slice(0, at),
        spec
          .slice(at + 1)
          .split(' ')
          .filter(Boolean),
      ];
    }),
  ];
  for (const [key, args] of directs) {
    const child = await startChild<DirectProxyInfo>(join(HERE, 'direct-proxy.ts'), ['--backend', backend.info.url, ...args], childOptions);
    children.push(child);
    variants.push({ key, origin: child.info.url, host: child.info.host, pids: [child.pid], inspectors: [inspectorOf(() => child.stderr())], baseline: true });
  }
  // The Gatehouse service (and its connector), as shipped and, with --tuned, again with more node flags (e.g. a V8 heap setting).
  const startGatehouse = async (suffix: string, extraNodeArgs: readonly string[]): Promise<void> => {
    const serviceOptions = { nodeArgs: [...(childOptions.nodeArgs ?? []), ...extraNodeArgs] };
    if (wanted.has('gw-pass') || wanted.has('gw-gate')) {
      const gw = await startChild<GatewayServiceInfo>(join(HERE, 'gateway-service.ts'), ['--backend', backend.info.url], serviceOptions);
      children.push(gw);
      const inspectors = [inspectorOf(() => gw.stderr())];
      if (wanted.has('gw-pass'))
        variants.push({ key: `gw-pass${suffix}`, origin: gw.info.origin, host: gw.info.hosts.passthrough, pids: [gw.pid], inspectors });
      if (wanted.has('gw-gate'))
        variants.push({
          key: `gw-gate${suffix}`,
          origin: gw.info.origin,
          host: gw.info.hosts.preauth,
          cookie: () => gw.call<string>('cookie'),
          pids: [gw.pid],
          inspectors,
        });
    }
    if (wanted.has('tunnel-pass') || wanted.has('tunnel-gate')) {
      const gw = await startChild<GatewayServiceInfo>(
        join(HERE, 'gateway-service.ts'),
        ['--backend', backend.info.url, '--connectors', ...(values.idle ? ['--ws-group'] : [])],
        serviceOptions,
      );
      children.push(gw);
      const options = { name: `tls${suffix ? '-tuned' : ''}`, tunnels: 2, transport: 'tls' as const, ...(values.profile ? { nodeOptions: INSPECT } : {}) };
      const registered = await registerConnector(gw, options);
      const connector = await runConnector(registered, options);
      connectors.push(connector);
      cleanups.push(() => rmSync(dirname(registered.stateDir), { recursive: true, force: true }));
      const pids = [gw.pid, connector.child.pid!];
      const inspectors = [inspectorOf(() => gw.stderr()), inspectorOf(() => connector.stderr())];
      if (wanted.has('tunnel-pass')) variants.push({ key: `tunnel-pass${suffix}`, origin: gw.info.origin, host: gw.info.hosts.passthrough, pids, inspectors });
      if (wanted.has('tunnel-gate'))
        variants.push({
          key: `tunnel-gate${suffix}`,
          origin: gw.info.origin,
          host: gw.info.hosts.preauth,
          cookie: () => gw.call<string>('cookie'),
          pids,
          inspectors,
        });
      if (values.idle && suffix === '') {
        const wsOptions = { name: 'ws', group: 'ws', tunnels: 2, transport: 'websocket' as const };
        const wsRegistered = await registerConnector(gw, wsOptions);
        connectors.push(await runConnector(wsRegistered, wsOptions));
        cleanups.push(() => rmSync(dirname(wsRegistered.stateDir), { recursive: true, force: true }));
      }
    }
  };
  await startGatehouse('', []);
  if (values.tuned !== undefined) await startGatehouse('+tuned', values.tuned.split(' ').filter(Boolean));
  if (values.idle && hasRedisServer()) {
    redis = await startRedis();
    const gw = await startChild<GatewayServiceInfo>(join(HERE, 'gateway-service.ts'), [
      '--backend',
      backend.info.url,
      '--connectors',
      '--store-url',
      redis.url,
    ]);
    children.push(gw);
    const options = { name: 'redis', tunnels: 2, transport: 'tls' as const };
    const registered = await registerConnector(gw, options);
    connectors.push(await runConnector(registered, options));
    cleanups.push(() => rmSync(dirname(registered.stateDir), { recursive: true, force: true }));
  }
  const allPids = [...children.map((child) => child.pid), ...connectors.map((connector) => connector.child.pid!), ...(redis ? [redis.pid] : [])];
  log(`processes: ${allPids.join(' ')}; variants: ${variants.map((variant) => variant.key).join(', ')}`);

  interface Row {
    key: string;
    connections: number;
    round: number;
    rps: number;
    p50Ms: number;
    p99Ms: number;
    errors: number;
    load: number;
    us: { proxy: number; backend: number; wrk: number; idle: number; each: number[] };
    /** Times a thread of the process was put on a CPU, per request: proxy (and connector), backend. */
    wakeups: number[];
  }
  const rows: Row[] = [];
  // What each process burns with no request at all (timers, heartbeats, GC): a fixed cost per second that a slow run
  // spreads over fewer requests than a fast one.
  const quiet = new Map(allPids.map((pid) => [pid, threadCpuNs(pid)]));
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  log(
    `idle CPU over 10 s, % of a core: ${allPids.map((pid) => `${pid} ${((threadCpuNs(pid) - quiet.get(pid)!) / 1e8).toFixed(2)}`).join(', ')} (load ${loadAverage1()})`,
  );
  for (const variant of variants) await wrk(variant, await cookieOf(variant), 16, 5);
  for (const connections of CONCURRENCY) {
    for (let round = 0; round < ROUNDS; round++) {
      // Rotating the order: no variant always runs first after a pause, or right after the heaviest one.
      const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
      for (const variant of order) {
        const cookie = await cookieOf(variant);
        if (SETTLE > 0) await wrk(variant, cookie, connections, SETTLE);
        const idlePids = allPids.filter((pid) => pid !== backend.pid && !variant.pids.includes(pid));
        if (values.freeze) for (const pid of idlePids) process.kill(pid, 'SIGSTOP');
        const sample = (): { proxy: number; backend: number; idle: number; each: number[]; slices: number[] } => ({
          slices: [...variant.pids, backend.pid].map((pid) => threadSchedstat(pid).slices),
          each: variant.pids.map((pid) => threadCpuNs(pid)),
          proxy: variant.pids.reduce((sum, pid) => sum + threadCpuNs(pid), 0),
          backend: threadCpuNs(backend.pid),
          idle: idlePids.reduce((sum, pid) => sum + threadCpuNs(pid), 0),
        });
        const before = sample();
        let result: WrkResult;
        try {
          result = await wrk(variant, cookie, connections, SECONDS);
        } finally {
          if (values.freeze) for (const pid of idlePids) process.kill(pid, 'SIGCONT');
        }
        const after = sample();
        const perRequestUs = (ns: number): number => ns / 1000 / result.requests;
        const row: Row = {
          key: variant.key,
          connections,
          round,
          rps: result.requests / (result.durationUs / 1e6),
          p50Ms: result.p50Us / 1000,
          p99Ms: result.p99Us / 1000,
          errors: result.errors,
          load: loadAverage1(),
          wakeups: after.slices.map((n, i) => (n - before.slices[i]!) / result.requests),
          us: {
            proxy: perRequestUs(after.proxy - before.proxy),
            backend: perRequestUs(after.backend - before.backend),
            wrk: perRequestUs(result.cpuNs),
            idle: perRequestUs(after.idle - before.idle),
            each: after.each.map((ns, i) => perRequestUs(ns - before.each[i]!)),
          },
        };
        rows.push(row);
        log(
          `${row.key.padEnd(14)} c${String(connections).padEnd(3)} r${round}  ${f0(row.rps).padStart(6)} req/s  p50 ${row.p50Ms.toFixed(2)} p99 ${row.p99Ms.toFixed(2)} ms  µs/req: proxy(+conn) ${f0(row.us.proxy)} (${row.us.each.map(f0).join('+')}) backend ${f0(row.us.backend)} wrk ${f0(row.us.wrk)} idle-others ${row.us.idle.toFixed(1)}  wake-ups/req ${row.wakeups.map((n) => n.toFixed(1)).join('/')}  err ${row.errors}  load ${row.load}`,
        );
      }
    }
  }
  const median = (list: number[]): number => {
    const sorted = [...list].sort((a, b) => a - b);
    const mid = (sorted.length - 1) / 2;
    return (sorted[Math.floor(mid)]! + sorted[Math.ceil(mid)]!) / 2;
  };
  const span = (list: number[]): string => `${f0(Math.min(...list))}–${f0(Math.max(...list))}`;
  const out = [
    '| variant | conns | req/s median (range) | × first | CPU µs/req proxy+connector median (range) | × first | + backend | × first | load avg (1 min) |',
    '|---|---:|---|---:|---|---:|---:|---:|---|',
  ];
  for (const connections of CONCURRENCY) {
    const base = rows.filter((row) => row.connections === connections && row.key === variants[0]!.key);
    for (const variant of variants) {
      const mine = rows.filter((row) => row.connections === connections && row.key === variant.key);
      const rps = median(mine.map((row) => row.rps));
      const cpu = median(mine.map((row) => row.us.proxy));
      const all = median(mine.map((row) => row.us.proxy + row.us.backend));
      out.push(
        `| ${variant.key} | ${connections} | ${f0(rps)} (${span(mine.map((row) => row.rps))}) | ${(rps / median(base.map((row) => row.rps))).toFixed(2)} | ${f0(cpu)} (${span(
          mine.map((row) => row.us.proxy),
        )}) | ${(cpu / median(base.map((row) => row.us.proxy))).toFixed(2)} | ${f0(all)} | ${(all / median(base.map((row) => row.us.proxy + row.us.backend))).toFixed(2)} | ${Math.min(...mine.map((row) => row.load)).toFixed(1)}–${Math.max(...mine.map((row) => row.load)).toFixed(1)} |`,
      );
    }
  }
  if (ROUNDS > 0) process.stdout.write(`${out.join('\n')}\n`);
  if (values.json) writeFileSync(values.json, JSON.stringify(rows, null, 2));
  if (values.profile) await profiles(variants, values.profile);
}

/** One more run per variant and concurrency, profiled in every process that serves it: self time per function, µs per request. */
async function profiles(variants: readonly Variant[], dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (const connections of CONCURRENCY) {
    const columns: Array<{ key: string; perFunction: Map<string, number>; perOurs: Map<string, number>; cpuUs: number }> = [];
    for (const variant of variants) {
      const cookie = await cookieOf(variant);
      if (SETTLE > 0) await wrk(variant, cookie, connections, SETTLE);
      const running = await Promise.all(variant.inspectors.map((url) => startProfile(url)));
      const before = variant.pids.reduce((sum, pid) => sum + threadCpuNs(pid), 0);
      const result = await wrk(variant, cookie, connections, SECONDS);
      const cpuUs = (variant.pids.reduce((sum, pid) => sum + threadCpuNs(pid), 0) - before) / 1000 / result.requests;
      const perFunction = new Map<string, number>();
      const perOurs = new Map<string, number>();
      const names = variant.pids.length > 1 ? ['gateway', 'connector'] : [variant.baseline ? 'proxy' : 'gateway'];
      for (const [index, profile] of running.entries()) {
        const file = join(dir, `${variant.key}-c${connections}-${names[index]}.cpuprofile`);
        writeFileSync(file, JSON.stringify(await profile.stop()));
        const summary = summarizeProfile(file, 60);
        for (const f of summary.functions) perFunction.set(`${names[index]}: ${f.name} ${f.where}`, (f.ms * 1000) / result.requests);
        for (const o of summary.ours) perOurs.set(`${names[index]}: ${o.frame}`, (o.ms * 1000) / result.requests);
        perFunction.set(`${names[index]}: (all busy samples)`, (summary.busyMs * 1000) / result.requests);
      }
      columns.push({ key: variant.key, perFunction, perOurs, cpuUs });
      log(
        `profiled ${variant.key} c${connections}: ${f0(result.requests / (result.durationUs / 1e6))} req/s, ${f0(cpuUs)} µs CPU per request (load ${loadAverage1()})`,
      );
    }
    for (const [title, pick] of [
      ['self time per function', (c: (typeof columns)[number]) => c.perFunction],
      ['self time by nearest Gatehouse frame (src/), with the library code it calls', (c: (typeof columns)[number]) => c.perOurs],
    ] as const) {
      const all = new Map<string, number>();
      for (const column of columns) for (const [name, us] of pick(column)) all.set(name, Math.max(all.get(name) ?? 0, us));
      const top = [...all.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30);
      const lines = [
        `#### ${connections} connection(s): ${title}, µs per request (profiled run: ${columns.map((c) => `${c.key} ${f0(c.cpuUs)} µs CPU/req`).join(', ')})`,
        '',
        `| function | ${columns.map((c) => c.key).join(' | ')} |`,
        `|---|${columns.map(() => '---:').join('|')}|`,
        ...top.map(
          ([name, _]) => `| ${name.replaceAll('|', '\\|')} | ${columns.map((c) => (pick(c).has(name) ? pick(c).get(name)!.toFixed(1) : '')).join(' | ')} |`,
        ),
        '',
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    }
  }
}

const cookies = new Map<string, { value: string; at: number }>();
/** A fresh sign-in at most every 45 s: the gateway re-seals a cookie over a minute old on every request, which wrk would never take in. */
async function cookieOf(variant: Variant): Promise<string | undefined> {
  if (!variant.cookie) return undefined;
  const cached = cookies.get(variant.key);
  if (cached && Date.now() - cached.at < 45_000) return cached.value;
  const value = await variant.cookie();
  cookies.set(variant.key, { value, at: Date.now() });
  return value;
}

interface WrkResult {
  readonly requests: number;
  readonly durationUs: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly errors: number;
  /** wrk's own CPU time, from its threads just before it exits. */
  readonly cpuNs: number;
}

async function wrk(variant: Variant, cookie: string | undefined, connections: number, seconds: number): Promise<WrkResult> {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', join(HERE, 'wrk-report.lua'), '-H', `Host: ${variant.host}`];
  if (cookie) args.push('-H', `Cookie: ${cookie}`);
  args.push(`${variant.origin}/1k`);
  const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  // wrk's threads are gone once it exits: sample them while it runs, the last sample stands.
  let cpuNs = 0;
  const timer = setInterval(() => {
    const now = threadCpuNs(child.pid!);
    if (Number.isFinite(now) && now > cpuNs) cpuNs = now;
  }, 50);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearInterval(timer);
  const line = /WRK_JSON (.+)/.exec(out)?.[1];
  if (code !== 0 || !line) throw new Error(`wrk failed (${code}):\n${out}`);
  const figures = JSON.parse(line) as Record<string, number>;
  const errors = ['connectErrors', 'readErrors', 'writeErrors', 'statusErrors', 'timeouts'].reduce((sum, name) => sum + (figures[name] ?? 0), 0);
  return { requests: figures['requests']!, durationUs: figures['durationUs']!, p50Us: figures['p50Us']!, p99Us: figures['p99Us']!, errors, cpuNs };
}

const f0 = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');

try {
  await main();
} finally {
  for (const connector of connectors) await connector.stop('SIGTERM');
  await Promise.all(children.map((child) => child.stop()));
  await redis?.close();
  for (const cleanup of cleanups) cleanup();
  if (autogroupBefore !== undefined) writeFileSync(AUTOGROUP, autogroupBefore);
}
