/**
 * `npm run bench`: Gatehouse against the same Express app proxying direct
 * with http-proxy-middleware (docs/benchmarks.md), side by side in
 * one run, as ratios. Every part runs in its own process: the backend, the
 * direct proxy (twice: the second, measured as its own row, is the run's
 * noise floor), Express + express-openid-connect (bench/oidc-proxy.ts), three
 * Gatehouse services (forwarding direct; through tunnels; through tunnels with
 * Redis as the store, on a redis-server of its own), real connector
 * processes, `gatehouse serve --workers 1` and `--workers 2` through the CLI
 * (bench/lib/serve-workers-stack.ts, each on its own redis-server, with its
 * own connector), and the load generator (wrk when installed, else bench/loadgen.ts).
 *
 *   npm run bench [-- --loadgen wrk|node] [--warm S] [--settle S] [--measure S]
 *                    [--concurrency 1,16,64] [--rounds 1] [--transfer-mib 256] [--transfer-warm 2] [--transfer-runs 3]
 *                    [--tunnels 2] [--no-ws] [--no-redis] [--write] [--json FILE]
 *   npm run bench -- --quick [--json FILE]   every variant checked (answers, sign-in, a small transfer), 1 s runs: no figure to read
 *   npm run bench -- --profile [--concurrency N] [--write]     CPU profiles of the gateway and the connector instead (GETs at N connections, 64 by default)
 *
 * --write puts the results between the markers in docs/benchmarks.md, all figures in
 * docs/benchmarks.json and the chart in docs/benchmarks.svg.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { RunningProcess } from '../dev/lib/processes.ts';
import type { BackendInfo } from './backend.ts';
import type { DirectProxyInfo } from './direct-proxy.ts';
import type { GatewayServiceInfo, GatewayServiceStats } from './gateway-service.ts';
import type { OidcProxyInfo } from './oidc-proxy.ts';
import { benchChart } from './lib/chart-svg.ts';
import { startChild, type Child } from './lib/child.ts';
import { registerConnector, runConnector, type ConnectorOptions, type RegisteredConnector } from './lib/connector.ts';
import { profileMarkdown, summarizeProfile } from './lib/cpu-profile.ts';
import { inspectorUrl, memoryAfterGc } from './lib/inspector-gc.ts';
import { f0, f2, f3, mib, pct } from './lib/format.ts';
import { cpuModel, cpuTimeMs, MiB, processMemory } from './lib/procfs.ts';
import { hasRedisServer, startRedis, type BenchRedis } from './lib/redis.ts';
import { commandsBetween, describeCommands, totalCalls, withoutBackground, type CommandCounts } from './lib/redis-commandstats.ts';
import { parseLoadAverage, writeBenchJson, type BenchReport, type GetRecord, type VariantChecks } from './lib/report-json.ts';
import { combineRounds, median, rotate, withRange } from './lib/rounds.ts';
import { startServeWorkersStack, type ServeWorkersStack } from './lib/serve-workers-stack.ts';
import { evaluateTargets, formatMeasured, GATE_PAIRS } from './lib/targets.ts';
import { threadCpuNs } from './lib/thread-cpu.ts';
import { isWorkersKey, WORKER_COUNTS, workersKey, workersSection } from './lib/workers-report.ts';
import { runWrk, type BenchTarget } from './lib/wrk.ts';
import type { GetResult, TransferResult } from './loadgen.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const LOADGEN = join(HERE, 'loadgen.ts');
const DOC = join(HERE, '..', 'docs', 'benchmarks.md');
const DOC_JSON = join(HERE, '..', 'docs', 'benchmarks.json');
const DOC_SVG = join(HERE, '..', 'docs', 'benchmarks.svg');

const { values } = parseArgs({
  options: {
    loadgen: { type: 'string' },
    quick: { type: 'boolean', default: false },
    warm: { type: 'string' },
    settle: { type: 'string' },
    measure: { type: 'string' },
    concurrency: { type: 'string' },
    'transfer-mib': { type: 'string' },
    rounds: { type: 'string', default: '1' },
    'transfer-warm': { type: 'string' },
    'transfer-runs': { type: 'string' },
    tunnels: { type: 'string', default: '2' },
    'no-ws': { type: 'boolean', default: false },
    'no-redis': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});

function num(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number, got ${value}`);
  return n;
}

const hasWrk = spawnSync('wrk', ['--version'], { encoding: 'utf8' }).error === undefined;
const loadgenKind = values.loadgen ?? (hasWrk ? 'wrk' : 'node');
if (loadgenKind !== 'wrk' && loadgenKind !== 'node') throw new Error('--loadgen is wrk or node');
if (loadgenKind === 'wrk' && !hasWrk) throw new Error('wrk is not installed (apt-get install -y wrk), or use --loadgen node');
// --quick: every variant answers correctly (checked before anything is measured), one short run each; its figures say nothing.
const QUICK = values.quick;
if (QUICK && (values.write || values.profile)) throw new Error('--quick checks the variants: its figures are not to be written, nor profiled');
const WARM = num('warm', values.warm ?? (QUICK ? '0' : '10'));
const SETTLE = num('settle', values.settle ?? (QUICK ? '0' : '2'));
const MEASURE = num('measure', values.measure ?? (QUICK ? '1' : '10'));
const CONCURRENCY = (values.concurrency ?? (QUICK ? '16' : '1,16,64')).split(',').map((c) => num('concurrency', c));
const TRANSFER_BYTES = num('transfer-mib', values['transfer-mib'] ?? (QUICK ? '1' : '256')) * MiB;
const ROUNDS = Math.max(1, num('rounds', values.rounds));
const TRANSFER_WARM = num('transfer-warm', values['transfer-warm'] ?? (QUICK ? '0' : '2'));
const TRANSFER_RUNS = Math.max(1, num('transfer-runs', values['transfer-runs'] ?? (QUICK ? '1' : '3')));
const TUNNELS = num('tunnels', values.tunnels);
const REDIS = !values['no-redis'] && !values.profile;
if (REDIS && !hasRedisServer()) {
  process.stderr.write('bench: redis-server is not installed, and the Redis variant needs it: apt-get install -y redis-server, or run with --no-redis\n');
  process.exit(1);
}
const argv = process.argv.slice(2);
const COMMAND =
  process.env['npm_lifecycle_event'] === 'bench' ? `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}` : `node bench/run.ts ${argv.join(' ')}`.trim();

/** The second direct proxy process: a GET row of its own, in no target and no transfer. */
const NOISE_FLOOR = 'direct-2';

const STARTED = Date.now();
const log = (line: string): void => void process.stderr.write(`bench [${Math.round((Date.now() - STARTED) / 1000)} s]: ${line}\n`);
const loadAverage = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const LOAD_AT_START = loadAverage();
const CORES = readFileSync('/proc/cpuinfo', 'utf8').match(/^processor\s*:/gm)?.length ?? 0;

// ---- targets and variants -----------------------------------------------------

type Target = BenchTarget;

interface Variant {
  readonly key: string;
  readonly label: string;
  readonly target: Target;
  /**
   * A fresh session cookie for the pre-auth variants, fetched before every
   * run: the gateway re-seals a cookie whose last-seen time is over a minute
   * old on every request, which a browser would take in but wrk does not.
   */
  readonly signIn?: () => Promise<string>;
  /** The processes that proxy (direct proxy, Gatehouse service, or `serve --workers`' primary and every worker), and the connector if any. */
  readonly proxyPids: readonly number[];
  /** Session store calls the Gatehouse service made so far (gate-on variants): measured per request. */
  readonly storeOps?: () => Promise<number>;
  readonly connectorPid?: number;
  /** A store in a process of its own (redis-server): its CPU counts for the variant, and its command counters are read. */
  readonly storePid?: number;
  readonly storeCommands?: () => Promise<CommandCounts>;
}

/** Redis commands during one measured run, with the background taken out (see measureGet). */
interface StoreCommandFigures {
  readonly perRequest: number;
  /** What was called per command in the measured run, background taken out. */
  readonly commands: ReadonlyMap<string, number>;
  /** Commands per second while this variant's service served no request, per command. */
  readonly background: ReadonlyMap<string, number>;
  readonly backgroundSeconds: number;
}

/** A measured run: bench/lib/report-json.ts's record (CPU as shares of one core and in µs per request), and what reached Redis. */
interface GetFigures extends GetRecord {
  readonly storeCommands?: StoreCommandFigures;
}

/** Per variant, the store's counters when its service last stopped serving requests: the start of its next quiet period. */
const quietSince = new Map<string, { counts: CommandCounts; at: number }>();

async function storeSnapshot(variant: Variant): Promise<{ counts: CommandCounts; at: number } | undefined> {
  return variant.storeCommands ? { counts: await variant.storeCommands(), at: Date.now() } : undefined;
}

function targetArgs(target: Target): string[] {
  return ['--origin', target.origin, '--host', target.host, '--ca', target.caFile, ...(target.cookie ? ['--cookie', target.cookie] : [])];
}

async function runLoadgen<T>(args: string[], timeoutMs: number): Promise<T> {
  const child = spawn(process.execPath, [LOADGEN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  if (code !== 0) throw new Error(`loadgen ${args[0]} failed (${code}):\n${err}`);
  return JSON.parse(out.trim().split('\n').pop()!) as T;
}

function busyJiffies(): number {
  const first = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = first;
  return user + nice + system + irq + softirq + steal;
}

async function withSession(variant: Variant): Promise<Target> {
  return variant.signIn ? { ...variant.target, cookie: await variant.signIn() } : variant.target;
}

async function measureGet(variant: Variant, connections: number, backendPid: number, allPids: readonly number[]): Promise<GetFigures> {
  // The end of a quiet period for this variant's service: the other variants ran meanwhile, it served nothing (no sign-in yet either).
  const quietEnd = await storeSnapshot(variant);
  const target = await withSession(variant);
  // A short run first: new connections, new tunnel streams, then the measured run.
  if (loadgenKind === 'wrk') {
    if (SETTLE > 0) await runWrk(target, connections, SETTLE);
  }
  const own = new Set([...variant.proxyPids, variant.connectorPid, variant.storePid, backendPid]);
  const others = allPids.filter((pid) => !own.has(pid));
  // The processes' own time from the scheduler's per-thread run time (ns): /proc's utime + stime come in 10 ms ticks, coarse next to
  // tens of µs per request. The load generator has exited by the second reading: its time, and the machine's, are only in ticks.
  const ms = (pid: number): number => threadCpuNs(pid) / 1e6;
  const sample = (): { proxy: number; connector: number; store: number; backend: number; loadgen: number; others: number; all: number } => ({
    proxy: variant.proxyPids.reduce((sum, pid) => sum + ms(pid), 0),
    connector: variant.connectorPid ? ms(variant.connectorPid) : 0,
    store: variant.storePid ? ms(variant.storePid) : 0,
    backend: ms(backendPid),
    // The load generator is our child: its time is ours once it has exited and was reaped.
    loadgen: cpuTimeMs('self', true),
    others: others.reduce((sum, pid) => sum + ms(pid), ms(process.pid)),
    all: busyJiffies() * 10,
  });
  const before = sample();
  const opsBefore = await variant.storeOps?.();
  const commandsBefore = await storeSnapshot(variant);
  let figures: { rps: number; p50Ms: number; p99Ms: number; errors: number; seconds: number; requests: number };
  if (loadgenKind === 'wrk') {
    const wrk = await runWrk(target, connections, MEASURE);
    const seconds = wrk.durationUs / 1e6;
    figures = {
      rps: wrk.requests / seconds,
      p50Ms: wrk.p50Us / 1000,
      p99Ms: wrk.p99Us / 1000,
      errors: wrk.connectErrors + wrk.readErrors + wrk.writeErrors + wrk.statusErrors + wrk.timeouts,
      seconds,
      requests: wrk.requests,
    };
  } else {
    const result = await runLoadgen<GetResult>(
      ['get', ...targetArgs(target), '--connections', String(connections), '--warmup', String(SETTLE), '--duration', String(MEASURE), '--expect-bytes', '1024'],
      (SETTLE + MEASURE + 60) * 1000,
    );
    const non200 = Object.entries(result.statuses).reduce((sum, [status, count]) => sum + (status === '200' ? 0 : count), 0);
    figures = {
      rps: result.rps,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      errors: result.errors + non200 + result.wrongBodies,
      seconds: SETTLE + result.seconds,
      // Its warm-up is part of the same run, and so of the service's counts.
      requests: result.allRequests,
    };
  }
  const after = sample();
  const opsAfter = await variant.storeOps?.();
  const commandsAfter = await storeSnapshot(variant);
  const storeOpsPerRequest = opsBefore !== undefined && opsAfter !== undefined && figures.requests > 0 ? (opsAfter - opsBefore) / figures.requests : undefined;
  let storeCommands: StoreCommandFigures | undefined;
  if (quietEnd && commandsBefore && commandsAfter) {
    // Background (the instance heartbeat: a write and a read of the instance records every 3 s) is what the store saw while
    // this service served nothing; it is taken out of the measured run at that rate, per command.
    const quiet = quietSince.get(variant.key);
    const backgroundSeconds = quiet ? (quietEnd.at - quiet.at) / 1000 : 0;
    const background = quiet ? commandsBetween(quiet.counts, quietEnd.counts) : new Map<string, number>();
    const measured = commandsBetween(commandsBefore.counts, commandsAfter.counts);
    const commands = withoutBackground(measured, (commandsAfter.at - commandsBefore.at) / 1000, background, backgroundSeconds);
    storeCommands = {
      perRequest: figures.requests > 0 ? totalCalls(commands) / figures.requests : NaN,
      commands,
      background: new Map([...background].map(([name, n]) => [name, backgroundSeconds > 0 ? n / backgroundSeconds : NaN])),
      backgroundSeconds,
    };
    quietSince.set(variant.key, commandsAfter);
  }
  // CPU over the whole load generator run (for the node one, its settle part too), as shares of one core.
  const wall = figures.seconds * 1000;
  const share = (key: keyof typeof before): number => (after[key] - before[key]) / wall;
  const known = share('proxy') + share('connector') + share('store') + share('backend') + share('loadgen') + share('others');
  const cpu = {
    proxy: share('proxy'),
    connector: share('connector'),
    store: share('store'),
    backend: share('backend'),
    loadgen: share('loadgen'),
    rest: Math.max(0, share('all') - known) + share('others'),
  };
  // µs per request over the same span as the requests counted (for the node load generator, its settle part too).
  const perRequest = (ms: number): number => (figures.requests > 0 ? (ms * 1000) / figures.requests : NaN);
  const delta = (key: keyof typeof before): number => after[key] - before[key];
  return {
    rps: figures.rps,
    p50Ms: figures.p50Ms,
    p99Ms: figures.p99Ms,
    errors: figures.errors,
    requests: figures.requests,
    cpu,
    cpuUsPerRequest: { serving: perRequest(delta('proxy') + delta('connector') + delta('store')), backend: perRequest(delta('backend')) },
    ...(storeOpsPerRequest !== undefined ? { storeOpsPerRequest } : {}),
    ...(storeCommands ? { storeCommands } : {}),
  };
}

/**
 * Requests through every variant before measuring, or stop here: 200 and the 1 KiB body with the session
 * (signed in through the identity provider's login form), and no 200 without it (sent to sign in).
 */
async function check(variant: Variant): Promise<VariantChecks> {
  const result = await runLoadgen<GetResult>(
    ['get', ...targetArgs(await withSession(variant)), '--connections', '2', '--count', '20', '--expect-bytes', '1024', '--max-seconds', '30'],
    60_000,
  );
  if (result.errors > 0 || result.statuses['200'] !== 20 || result.wrongBodies > 0) {
    throw new Error(`${variant.label} does not answer 200 with 1 KiB: ${JSON.stringify(result)}`);
  }
  if (!variant.signIn) return { get: true };
  const anonymous = await runLoadgen<GetResult>(['get', ...targetArgs(variant.target), '--connections', '1', '--count', '2', '--max-seconds', '30'], 60_000);
  // Sent to sign in: a redirect (express-openid-connect, always), or 401 (Gatehouse, to a request that is not a page navigation).
  const refused = Object.entries(anonymous.statuses).reduce((sum, [status, count]) => sum + (/^(30[23]|401)$/.test(status) ? count : 0), 0);
  if (anonymous.errors > 0 || refused !== 2)
    throw new Error(`${variant.label} does not send a request without its session to sign in: ${JSON.stringify(anonymous)}`);
  return { get: true, signIn: true };
}

// ---- processes ----------------------------------------------------------------

interface Processes {
  readonly backend: Child<BackendInfo>;
  readonly direct?: Child<DirectProxyInfo>;
  /** The same direct proxy in a second process: measured as its own row, the noise floor of the run. */
  readonly direct2?: Child<DirectProxyInfo>;
  /** Express + express-openid-connect, its own identity provider inside. */
  readonly eoidc?: Child<OidcProxyInfo>;
  readonly gatewayDirect?: Child<GatewayServiceInfo>;
  readonly gatewayTunnel: Child<GatewayServiceInfo>;
  /** The Redis variant: a service with store.url on its own redis-server. */
  readonly redis?: BenchRedis;
  readonly gatewayRedis?: Child<GatewayServiceInfo>;
  readonly connectors: Array<{
    readonly name: string;
    readonly process: RunningProcess;
    readonly registered: RegisteredConnector;
    readonly options: ConnectorOptions;
  }>;
  /** `gatehouse serve --workers N` for each of WORKER_COUNTS, each with its own redis-server and connector. */
  readonly workerStacks: ServeWorkersStack[];
}

async function stopAll(processes: Partial<Processes>): Promise<void> {
  for (const connector of processes.connectors ?? []) {
    await connector.process.stop('SIGTERM');
    rmSync(dirname(connector.registered.stateDir), { recursive: true, force: true });
  }
  await Promise.all([
    processes.gatewayTunnel?.stop(),
    processes.gatewayRedis?.stop(),
    processes.gatewayDirect?.stop(),
    processes.direct?.stop(),
    processes.direct2?.stop(),
    processes.eoidc?.stop(),
    ...(processes.workerStacks ?? []).map((stack) => stack.stop()),
  ]);
  await processes.redis?.close();
  await processes.backend?.stop();
}

function memoryOf(pid: number): { rss: number; peak: number } {
  try {
    return processMemory(pid);
  } catch {
    return { rss: NaN, peak: NaN };
  }
}

// ---- formatting -----------------------------------------------------------------

function loadgenDescription(): string {
  return `${
    loadgenKind === 'wrk'
      ? `${spawnSync('wrk', ['--version'], { encoding: 'utf8' })
          .stdout.split('\n')[0]
          ?.replace(/ Copyright.*/, '')} (-t1, keep-alive)`
      : 'bench/loadgen.ts (undici Pool, keep-alive)'
  }; transfers: bench/loadgen.ts (undici), SHA-256 checked`;
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(HERE, '..', 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

function environment(): string {
  return [
    `- Date: ${new Date().toISOString()}`,
    `- Node ${process.version} (${process.platform} ${process.arch}), CPU: ${cpuModel()}, ${CORES} cores shared by every process below`,
    `- Command: \`${COMMAND}\``,
    `- Load generator: ${loadgenDescription()}`,
    ...(values.profile
      ? [
          `- Profiles: V8 sampling profiler (0.5 ms) in the gateway over the measured phase only; the connector with --cpu-prof over its whole life (start-up included), one connector per phase; one connector with --tunnels ${TUNNELS}, HTTP/2 over TLS`,
        ]
      : [
          `- GETs: ${WARM} s warm-up per variant, then per measurement ${SETTLE} s settle + ${MEASURE} s measured, variants interleaved per concurrency${ROUNDS > 1 ? `, ${ROUNDS} rounds in rotating order (each round starts one variant later), every figure the median of the rounds with the lowest and highest in brackets (ratios from the medians; errors summed)` : ''}; transfers of ${TRANSFER_BYTES / MiB} MiB each way: ${TRANSFER_WARM} warm-up runs per variant, then the median of ${TRANSFER_RUNS} runs, variants interleaved in rotating order`,
          `- Tunnel variants: one connector process with --tunnels ${TUNNELS}, HTTP/2 over TLS (ALPN) unless marked WebSocket`,
          `- express-openid-connect ${packageVersion('express-openid-connect')} with its defaults (implicit id_token flow, encrypted rolling session cookie), http-proxy-middleware ${packageVersion('http-proxy-middleware')}, Express ${packageVersion('express')}`,
          ...(QUICK ? ['- --quick: every variant checked (200 and the body, sign-in, a transfer with its SHA-256), then runs too short to mean anything'] : []),
          REDIS
            ? `- Redis variant: its own Gatehouse service with store.url = redis://127.0.0.1:<port> and its own connector (--tunnels ${TUNNELS}); ${spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.split(' sha=')[0]?.trim()}, loopback, no persistence; every other tunnel service on the embedded SQLite store`
            : '- Redis variant: skipped (--no-redis)',
          REDIS
            ? `- serve --workers variants: \`gatehouse serve --workers ${WORKER_COUNTS.join('` and `')}\` through the CLI (src/cli/gatehouse.ts), each on a redis-server of its own, with its own connector (--tunnels ${TUNNELS} to every worker) and its own identity provider (in the bench process, idle while requests are measured); GETs only`
            : '- serve --workers variants: skipped (--no-redis: they need a Redis store)',
        ]),
    `- Load average (1, 5, 15 min) at start: ${LOAD_AT_START}; at the end: ${loadAverage()}`,
  ].join('\n');
}

// ---- the benchmark ------------------------------------------------------------------

/** Proxies take a full GC over IPC, connectors through their loopback inspector: RSS right after it is what a process retains. */
const GC = { nodeArgs: ['--expose-gc'] } as const;
const INSPECT = '--inspect=127.0.0.1:0';

async function startCommon(options: {
  gatewayDirect: boolean;
  ws: boolean;
  redis: boolean;
  workers: boolean;
  connectorNodeOptions?: string;
}): Promise<Processes> {
  const backend = await startChild<BackendInfo>(join(HERE, 'backend.ts'), []);
  const started: Partial<Processes> & Pick<Processes, 'connectors' | 'workerStacks'> = { backend, connectors: [], workerStacks: [] };
  // The CLI's stacks take longest to come up (a primary, its workers, a connector registering): started first, alongside the rest.
  const stacks = Promise.allSettled(
    (options.workers ? WORKER_COUNTS : []).map((workers) => startServeWorkersStack({ workers, backendUrl: backend.info.url, tunnels: TUNNELS })),
  );
  const collectStacks = async (): Promise<void> => {
    for (const outcome of await stacks)
      if (outcome.status === 'fulfilled' && !started.workerStacks.includes(outcome.value)) started.workerStacks.push(outcome.value);
  };
  try {
    const redis = options.redis ? await startRedis() : undefined;
    Object.assign(started, { redis });
    const [direct, direct2, eoidc, gatewayDirect, gatewayTunnel, gatewayRedis] = await Promise.all([
      options.gatewayDirect ? startChild<DirectProxyInfo>(join(HERE, 'direct-proxy.ts'), ['--backend', backend.info.url], GC) : undefined,
      options.gatewayDirect ? startChild<DirectProxyInfo>(join(HERE, 'direct-proxy.ts'), ['--backend', backend.info.url], GC) : undefined,
      options.gatewayDirect ? startChild<OidcProxyInfo>(join(HERE, 'oidc-proxy.ts'), ['--backend', backend.info.url], GC) : undefined,
      options.gatewayDirect ? startChild<GatewayServiceInfo>(join(HERE, 'gateway-service.ts'), ['--backend', backend.info.url], GC) : undefined,
      startChild<GatewayServiceInfo>(
        join(HERE, 'gateway-service.ts'),
        ['--backend', backend.info.url, '--connectors', ...(options.ws ? ['--ws-group'] : [])],
        GC,
      ),
      redis
        ? startChild<GatewayServiceInfo>(join(HERE, 'gateway-service.ts'), ['--backend', backend.info.url, '--connectors', '--store-url', redis.url], GC)
        : undefined,
    ]);
    Object.assign(started, { direct, direct2, eoidc, gatewayDirect, gatewayTunnel, gatewayRedis });
    const wanted: Array<ConnectorOptions & { service: Child<GatewayServiceInfo> }> = [
      {
        service: gatewayTunnel,
        name: 'bench-tls',
        tunnels: TUNNELS,
        transport: 'tls',
        nodeOptions: [INSPECT, options.connectorNodeOptions ?? ''].join(' ').trim(),
      },
      ...(options.ws
        ? [{ service: gatewayTunnel, name: 'bench-ws', group: 'ws', tunnels: TUNNELS, transport: 'websocket' as const, nodeOptions: INSPECT }]
        : []),
      ...(gatewayRedis ? [{ service: gatewayRedis, name: 'bench-redis', tunnels: TUNNELS, transport: 'tls' as const, nodeOptions: INSPECT }] : []),
    ];
    // Side by side: each is two Node processes starting (register, run), most of the bench's start-up time.
    const settled = await Promise.allSettled(
      wanted.map(async ({ service, ...connectorOptions }) => {
        const registered = await registerConnector(service, connectorOptions);
        return { name: connectorOptions.name, process: await runConnector(registered, connectorOptions), registered, options: connectorOptions };
      }),
    );
    for (const outcome of settled) if (outcome.status === 'fulfilled') started.connectors.push(outcome.value);
    const failed = settled.find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    await collectStacks();
    const failedStack = (await stacks).find((outcome) => outcome.status === 'rejected');
    if (failedStack) throw failedStack.reason;
    return started as Processes;
  } catch (error) {
    await collectStacks();
    await stopAll(started);
    throw error;
  }
}

interface Results {
  readonly variants: Array<{ key: string; label: string }>;
  readonly gets: Record<string, Record<number, GetFigures>>;
  readonly transfers: Record<string, { download: number[]; upload: number[]; warmDownload: number[]; warmUpload: number[] }>;
  /**
   * `points`: RSS as sampled (start, after the GETs, after the transfers); `settled`: RSS right after a full GC at each
   * point; `live`: what JavaScript holds then (V8 heap used + external memory, Buffers included).
   */
  readonly memory: Array<{ label: string; pid: number; points: Array<{ rss: number; peak: number }>; settled: number[]; live: number[] }>;
  /** What was checked of each variant's answers (a failed check stops the run). */
  readonly checks: Record<string, VariantChecks>;
}

async function benchmark(): Promise<string> {
  const ws = !values['no-ws'];
  log(`starting processes (load generator: ${loadgenKind})`);
  if (!REDIS) log('serve --workers variants: skipped (--no-redis: they need a Redis store)');
  const processes = await startCommon({ gatewayDirect: true, ws, redis: REDIS, workers: REDIS });
  try {
    const { backend, gatewayTunnel } = processes;
    const direct = processes.direct!;
    const direct2 = processes.direct2!;
    const eoidc = processes.eoidc!;
    const gatewayDirect = processes.gatewayDirect!;
    const tls = processes.connectors[0]!.process.child.pid!;
    const wsPid = processes.connectors.find((connector) => connector.name === 'bench-ws')?.process.child.pid;
    const { redis, gatewayRedis } = processes;
    const redisConnectorPid = processes.connectors.find((connector) => connector.name === 'bench-redis')?.process.child.pid;
    const signInDirect = (): Promise<string> => gatewayDirect.call<string>('cookie');
    const signInTunnel = (): Promise<string> => gatewayTunnel.call<string>('cookie');
    const t = gatewayTunnel.info;
    const d = gatewayDirect.info;
    const variants: Variant[] = [
      {
        key: 'direct',
        label: 'direct hpm (baseline)',
        target: { origin: direct.info.url, host: direct.info.host, caFile: direct.info.caFile },
        proxyPids: [direct.pid],
      },
      {
        // Identical to the baseline: how far it is from 1.00× is how far two equal variants differ in this run.
        key: NOISE_FLOOR,
        label: 'direct hpm, second process (noise floor)',
        target: { origin: direct2.info.url, host: direct2.info.host, caFile: direct2.info.caFile },
        proxyPids: [direct2.pid],
      },
      {
        key: 'eoidc',
        label: 'Express + express-openid-connect (signed in)',
        target: { origin: eoidc.info.url, host: eoidc.info.host, caFile: eoidc.info.caFile },
        signIn: () => eoidc.call<string>('cookie'),
        proxyPids: [eoidc.pid],
      },
      {
        key: 'gw-pass-direct',
        label: 'Gatehouse pass-through, forwarding direct',
        target: { origin: d.origin, host: d.hosts.passthrough, caFile: d.caFile },
        proxyPids: [gatewayDirect.pid],
      },
      {
        key: 'gw-gate-direct',
        label: 'Gatehouse pre-auth (gate on), forwarding direct',
        target: { origin: d.origin, host: d.hosts.preauth, caFile: d.caFile },
        signIn: signInDirect,
        proxyPids: [gatewayDirect.pid],
        storeOps: async () => (await gatewayDirect.call<GatewayServiceStats>('stats')).storeOps,
      },
      {
        key: 'tunnel-pass',
        label: 'Gatehouse pass-through, tunnel (TLS)',
        target: { origin: t.origin, host: t.hosts.passthrough, caFile: t.caFile },
        proxyPids: [gatewayTunnel.pid],
        connectorPid: tls,
      },
      {
        key: 'tunnel-gate',
        label: 'Gatehouse pre-auth (gate on), tunnel (TLS)',
        target: { origin: t.origin, host: t.hosts.preauth, caFile: t.caFile },
        signIn: signInTunnel,
        proxyPids: [gatewayTunnel.pid],
        storeOps: async () => (await gatewayTunnel.call<GatewayServiceStats>('stats')).storeOps,
        connectorPid: tls,
      },
      ...(wsPid
        ? [
            {
              key: 'tunnel-pass-ws',
              label: 'Gatehouse pass-through, tunnel (WebSocket)',
              target: { origin: t.origin, host: t.hosts.passthroughWs, caFile: t.caFile },
              proxyPids: [gatewayTunnel.pid],
              connectorPid: wsPid,
            },
          ]
        : []),
      ...(redis && gatewayRedis && redisConnectorPid
        ? [
            {
              key: 'tunnel-gate-redis',
              label: 'Gatehouse pre-auth (gate on), tunnel (TLS), Redis store',
              target: { origin: gatewayRedis.info.origin, host: gatewayRedis.info.hosts.preauth, caFile: gatewayRedis.info.caFile },
              signIn: () => gatewayRedis.call<string>('cookie'),
              proxyPids: [gatewayRedis.pid],
              storeOps: async () => (await gatewayRedis.call<GatewayServiceStats>('stats')).storeOps,
              connectorPid: redisConnectorPid,
              storePid: redis.pid,
              storeCommands: () => redis.commandStats(),
            },
          ]
        : []),
      ...processes.workerStacks.map((stack): Variant => ({
        key: workersKey(stack.workers),
        label: `gatehouse serve --workers ${stack.workers} (gate on, tunnel, Redis)`,
        target: { origin: stack.origin, host: stack.host, caFile: stack.caFile },
        signIn: () => stack.signIn(),
        proxyPids: stack.gatewayPids,
        connectorPid: stack.connector.process.child.pid!,
        storePid: stack.redis.pid,
        storeCommands: () => stack.redis.commandStats(),
      })),
    ];
    const checks: Results['checks'] = {};
    for (const variant of variants) {
      checks[variant.key] = await check(variant);
      log(`${variant.label}: answers correctly${variant.signIn ? ', signed in' : ''}`);
    }
    const allPids = [
      backend.pid,
      direct.pid,
      direct2.pid,
      eoidc.pid,
      gatewayDirect.pid,
      gatewayTunnel.pid,
      tls,
      ...[wsPid, gatewayRedis?.pid, redisConnectorPid, redis?.pid].filter((pid) => pid !== undefined),
      ...processes.workerStacks.flatMap((stack) => [...stack.gatewayPids, stack.connector.process.child.pid!, stack.redis.pid]),
    ];

    const inspectorGc = (index: number) => () => memoryAfterGc(inspectorUrl(processes.connectors[index]!.process.stderr()));
    const gcOver = (child: Child<unknown>) => () => child.call<NodeJS.MemoryUsage>('gc');
    const memory: Array<Results['memory'][number] & { gc: () => Promise<NodeJS.MemoryUsage> }> = [
      { label: 'direct proxy (baseline)', pid: direct.pid, points: [], settled: [], live: [], gc: gcOver(direct) },
      { label: 'Express + express-openid-connect', pid: eoidc.pid, points: [], settled: [], live: [], gc: gcOver(eoidc) },
      { label: 'Gatehouse service, forwarding direct', pid: gatewayDirect.pid, points: [], settled: [], live: [], gc: gcOver(gatewayDirect) },
      { label: 'Gatehouse service, tunnels', pid: gatewayTunnel.pid, points: [], settled: [], live: [], gc: gcOver(gatewayTunnel) },
      { label: 'connector (TLS)', pid: tls, points: [], settled: [], live: [], gc: inspectorGc(0) },
      ...(wsPid ? [{ label: 'connector (WebSocket)', pid: wsPid, points: [], settled: [], live: [], gc: inspectorGc(1) }] : []),
    ];
    /** RSS as it is, then right after a full GC in the process, with what JavaScript still holds. */
    const sampleMemory = async (): Promise<void> => {
      for (const entry of memory) {
        entry.points.push(memoryOf(entry.pid));
        const usage = await entry.gc();
        entry.settled.push(memoryOf(entry.pid).rss);
        entry.live.push(usage.heapUsed + usage.external);
      }
    };
    await sampleMemory();

    log(`warming up each variant for ${WARM} s`);
    for (const variant of variants) {
      if (WARM === 0) break;
      const target = await withSession(variant);
      if (loadgenKind === 'wrk') await runWrk(target, 16, WARM);
      else await runLoadgen<GetResult>(['get', ...targetArgs(target), '--connections', '16', '--duration', String(WARM)], (WARM + 60) * 1000);
    }
    // From here on, a store's service serves requests only in its own measurements: its first quiet period starts now.
    for (const variant of variants) {
      const snapshot = await storeSnapshot(variant);
      if (snapshot) quietSince.set(variant.key, snapshot);
    }

    // Every round is kept; the report gives the median of each figure with the range (bench/lib/rounds.ts).
    const runs: Record<string, Record<number, GetFigures[]>> = {};
    for (const connections of CONCURRENCY) {
      for (let round = 0; round < ROUNDS; round++) {
        for (const variant of rotate(variants, round)) {
          const figures = await measureGet(variant, connections, backend.pid, allPids);
          ((runs[variant.key] ??= {})[connections] ??= []).push(figures);
          log(
            `${variant.label} @${connections}: ${f0(figures.rps)} req/s, p50 ${f2(figures.p50Ms)} ms, p99 ${f2(figures.p99Ms)} ms, errors ${figures.errors}, CPU rest ${pct(figures.cpu.rest)} %${
              figures.storeCommands
                ? `, Redis commands per request ${f3(figures.storeCommands.perRequest)} (${describeCommands(figures.storeCommands.commands)})`
                : ''
            }`,
          );
        }
      }
    }
    const gets: Results['gets'] = Object.fromEntries(
      Object.entries(runs).map(([key, byConnections]) => [key, Object.fromEntries(Object.entries(byConnections).map(([c, list]) => [c, combineRounds(list)]))]),
    );
    await sampleMemory();

    // The store is not on the transfer path: its variant's transfers would repeat its SQLite twin's. The noise floor and the
    // serve --workers stacks (one transfer is one connection, on one worker) are GET figures: keeps the run short.
    const transferVariants = variants.filter(
      (variant) => variant.key !== 'gw-gate-direct' && variant.key !== 'tunnel-gate-redis' && variant.key !== NOISE_FLOOR && !isWorkersKey(variant.key),
    );
    const transfers: Results['transfers'] = {};
    const transfer = async (variant: Variant, kind: 'download' | 'upload', warm: boolean, run: number): Promise<void> => {
      const result = await runLoadgen<TransferResult>([kind, ...targetArgs(await withSession(variant)), '--bytes', String(TRANSFER_BYTES)], 600_000);
      if (!result.ok) throw new Error(`${variant.label} ${kind} failed its check: ${JSON.stringify(result)}`);
      const entry = (transfers[variant.key] ??= { download: [], upload: [], warmDownload: [], warmUpload: [] });
      if (warm) (kind === 'download' ? entry.warmDownload : entry.warmUpload).push(result.mbps);
      else entry[kind].push(result.mbps);
      checks[variant.key] = { ...checks[variant.key]!, transfer: true };
      log(`${variant.label} ${kind} ${warm ? 'warm-up' : 'run'} ${run + 1}: ${f0(result.mbps)} MB/s`);
    };
    // The first bulk transfers through a fresh process are slower (JIT, heap growing): warm each variant up first.
    for (const variant of transferVariants) {
      for (let run = 0; run < TRANSFER_WARM; run++) for (const kind of ['download', 'upload'] as const) await transfer(variant, kind, true, run);
    }
    for (let run = 0; run < TRANSFER_RUNS; run++) {
      for (const variant of rotate(transferVariants, run)) for (const kind of ['download', 'upload'] as const) await transfer(variant, kind, false, run);
    }
    await sampleMemory();

    const results: Results = { variants: variants.map(({ key, label }) => ({ key, label })), gets, transfers, memory, checks };
    const data = reportData(results);
    if (values.json) writeBenchJson(values.json, data);
    if (values.write) {
      writeBenchJson(DOC_JSON, data);
      writeFileSync(DOC_SVG, benchChart(data));
      log(`wrote ${DOC_JSON} and ${DOC_SVG}`);
    }
    const failed = Object.entries(gets).flatMap(([key, byConnections]) =>
      Object.entries(byConnections)
        .filter(([, g]) => g.errors > 0)
        .map(([c]) => `${key} @${c}`),
    );
    if (QUICK && failed.length > 0) throw new Error(`errors in the runs of ${failed.join(', ')}`);
    if (QUICK)
      log(
        `every variant answered correctly: ${Object.entries(checks)
          .map(([key, c]) => `${key} (${Object.keys(c).join(', ')})`)
          .join('; ')}`,
      );
    return report(results);
  } finally {
    await stopAll(processes);
  }
}

/** CPU of the processes that serve a request (proxy, connector, store server), in µs per request. */
const cpuPerRequestUs = (g: GetFigures): number => g.cpuUsPerRequest.serving;

/** The medians each way of a variant's transfers. */
function transferMedians(results: Results): Record<string, { download: number; upload: number }> {
  return Object.fromEntries(Object.entries(results.transfers).map(([key, runs]) => [key, { download: median(runs.download), upload: median(runs.upload) }]));
}

/** The targets, from the run's figures: RSS growth for every Gatehouse process (not the baselines). */
function targetsOf(results: Results): ReturnType<typeof evaluateTargets> {
  return evaluateTargets({
    concurrency: CONCURRENCY,
    gets: Object.fromEntries(
      Object.entries(results.gets).map(([key, byConnections]) => [
        key,
        Object.fromEntries(Object.entries(byConnections).map(([c, g]) => [c, { rps: g.rps, p99Ms: g.p99Ms, cpuUsPerRequest: g.cpuUsPerRequest.serving }])),
      ]),
    ),
    transfers: transferMedians(results),
    memory: results.memory
      .filter((entry) => /^(Gatehouse|connector)/.test(entry.label))
      .map((entry) => ({ label: entry.label, afterGets: entry.settled[1] ?? NaN, afterTransfers: entry.settled[2] ?? NaN })),
  });
}

/** The run as data (docs/benchmarks.json). */
function reportData(results: Results): BenchReport {
  const medians = transferMedians(results);
  return {
    schema: 1,
    date: new Date().toISOString(),
    command: COMMAND,
    machine: {
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      cpuModel: cpuModel(),
      cores: CORES,
      loadgen: loadgenDescription(),
    },
    loadAverage: { start: parseLoadAverage(LOAD_AT_START), end: parseLoadAverage(loadAverage()) },
    settings: {
      quick: QUICK,
      warmSeconds: WARM,
      settleSeconds: SETTLE,
      measureSeconds: MEASURE,
      concurrency: CONCURRENCY,
      rounds: ROUNDS,
      transferMiB: TRANSFER_BYTES / MiB,
      transferWarmRuns: TRANSFER_WARM,
      transferRuns: TRANSFER_RUNS,
      tunnels: TUNNELS,
      webSocket: !values['no-ws'],
      redis: REDIS,
      serveWorkers: REDIS ? [...WORKER_COUNTS] : [],
    },
    variants: results.variants,
    gets: Object.fromEntries(
      Object.entries(results.gets).map(([key, byConnections]) => [
        key,
        Object.fromEntries(
          Object.entries(byConnections).map(([c, { storeCommands, ...g }]) => [
            c,
            { ...g, ...(storeCommands ? { redisCommandsPerRequest: storeCommands.perRequest } : {}) } satisfies GetRecord,
          ]),
        ),
      ]),
    ),
    transfers: Object.fromEntries(
      Object.entries(results.transfers).map(([key, runs]) => [key, { downloadMedian: medians[key]!.download, uploadMedian: medians[key]!.upload, ...runs }]),
    ),
    memory: results.memory.map(({ label, points, settled, live }) => ({ label, points, settled, live })),
    checks: results.checks,
    targets: targetsOf(results),
  };
}

/** The Redis variant next to its SQLite twin (gate on, tunnel over TLS), both against direct, and what reached Redis. */
function redisSection(results: Results): string[] {
  const { gets } = results;
  const rows = CONCURRENCY.map((connections) => ({
    connections,
    direct: gets['direct']?.[connections],
    sqlite: gets['tunnel-gate']?.[connections],
    redis: gets['tunnel-gate-redis']?.[connections],
  })).filter((row) => row.direct && row.sqlite && row.redis) as Array<{ connections: number; direct: GetFigures; sqlite: GetFigures; redis: GetFigures }>;
  if (rows.length === 0) return [];
  const out = ['#### Redis as the store (whole stack: gate on, tunnel over TLS; SQLite twin vs Redis)', ''];
  out.push(
    '| conns | req/s: SQLite → Redis | × direct: SQLite / Redis | CPU µs per request: direct / SQLite / Redis | CPU per request × direct: SQLite / Redis | Redis commands per request | in the measured run (background taken out) |',
  );
  out.push('|---:|---|---|---|---|---:|---|');
  for (const { connections, direct, sqlite, redis } of rows) {
    const [d, s, r] = [direct, sqlite, redis].map(cpuPerRequestUs) as [number, number, number];
    const commands = redis.storeCommands;
    out.push(
      `| ${connections} | ${f0(sqlite.rps)} → ${f0(redis.rps)} | ${f2(sqlite.rps / direct.rps)} / ${f2(redis.rps / direct.rps)} | ${f0(d)} / ${f0(s)} / ${f0(r)} | ${f2(s / d)} / ${f2(r / d)} | ${
        commands ? f3(commands.perRequest) : '—'
      } | ${commands ? describeCommands(commands.commands) : '—'} |`,
    );
  }
  const background = rows.map((row) => row.redis.storeCommands).find((commands) => commands && commands.backgroundSeconds > 0);
  out.push(
    '',
    `CPU per request: CPU time (the scheduler's run time of every thread) of the processes that serve it (the proxy; the gateway and the connector; for Redis also redis-server) over requests served. Redis commands: Redis's own counters (INFO commandstats) just before and just after each measured run, minus the INFO that read them, minus the background: what Redis counted while this variant's service served no request (the other variants' runs), taken out at that rate, per command${
      background
        ? ` (here ${f2(totalCalls(background.background))} commands/s over ${f0(background.backgroundSeconds)} s: ${describeCommands(new Map([...background.background].map(([name, n]) => [name, Number(n.toFixed(2))])))} per second)`
        : ''
    }.`,
    '',
  );
  return out;
}

function report(results: Results): string {
  const { gets, transfers } = results;
  const label = (key: string): string => results.variants.find((variant) => variant.key === key)?.label ?? key;
  const base = gets['direct'] ?? {};
  const out: string[] = [environment(), ''];

  out.push('#### 1 KiB GETs', '');
  out.push(
    '| variant | conns | CPU µs per request (serving) | × direct | req/s | × direct | p50 ms | p99 ms | p99 × direct | errors | backend µs per request | CPU % of a core: proxy / connector / backend / load gen. / rest |',
  );
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const connections of CONCURRENCY) {
    for (const { key } of results.variants) {
      const g = gets[key]?.[connections];
      const b = base[connections];
      if (!g || !b) continue;
      out.push(
        `| ${label(key)} | ${connections} | ${withRange(g.cpuUsPerRequest.serving, g.range?.servingUs, f0)} | ${f2(g.cpuUsPerRequest.serving / b.cpuUsPerRequest.serving)} | ${withRange(g.rps, g.range?.rps, f0)} | ${f2(g.rps / b.rps)} | ${withRange(g.p50Ms, g.range?.p50Ms, f2)} | ${withRange(g.p99Ms, g.range?.p99Ms, f2)} | ${f2(g.p99Ms / b.p99Ms)} | ${g.errors} | ${f0(g.cpuUsPerRequest.backend)} | ${pct(g.cpu.proxy)}${g.cpu.store > 0 ? ` + Redis ${pct(g.cpu.store)}` : ''} / ${g.cpu.connector > 0 ? pct(g.cpu.connector) : '–'} / ${pct(g.cpu.backend)} / ${pct(g.cpu.loadgen)} / ${pct(g.cpu.rest)}${g.cpu.rest > 0.4 ? ' ⚠' : ''} |`,
      );
    }
  }
  out.push(
    '',
    'CPU per request (serving): CPU time over the requests of the measured run (the scheduler’s run time of every thread, /proc/PID/task/*/schedstat, in ns), summed over the processes that serve a request: for direct and express-openid-connect the proxy process, for Gatehouse the service (gateway) and, through a tunnel, the connector, for the Redis variant also redis-server, for `gatehouse serve --workers` the primary, every worker, the connector and redis-server; the backend, the same process for every variant, is shown apart and left out of the sum (its work is the same for every variant). The identity providers run inside the proxy processes and are idle while requests are measured. CPU %: the same time per process as shares of one core (proxy: for `serve --workers` the primary and the workers together; "+ Redis": the redis-server of the Redis and workers variants); "rest" is the idle processes of the bench, the orchestrator and kernel time not charged to a process (loopback networking in softirq). Two cores = 200. ⚠: more than 40 % of a core went to something other than the processes under test (other work on the machine): that row is less trustworthy.',
    '',
  );
  if (gets[NOISE_FLOOR])
    out.push(
      'Noise floor: "direct hpm, second process" is the baseline again in a process of its own, measured like every variant. Its ratios to direct would be 1.00 on a quiet machine; how far they are from 1.00 is how far two identical variants differ in this run, and a difference between variants smaller than that says nothing.',
      '',
    );

  out.push('#### Session gate cost (gate on vs the same stack with the gate off)', '');
  out.push('| stack | conns | CPU µs per request: off → on | added by the gate | req/s: off → on | cost in req/s |');
  out.push('|---|---:|---|---:|---|---:|');
  for (const pair of GATE_PAIRS) {
    for (const connections of CONCURRENCY) {
      const off = gets[pair.off]?.[connections];
      const on = gets[pair.on]?.[connections];
      if (!off || !on) continue;
      out.push(
        `| ${pair.label} | ${connections} | ${f0(off.cpuUsPerRequest.serving)} → ${f0(on.cpuUsPerRequest.serving)} | ${f0(on.cpuUsPerRequest.serving - off.cpuUsPerRequest.serving)} µs (${pct(on.cpuUsPerRequest.serving / off.cpuUsPerRequest.serving - 1)} %) | ${f0(off.rps)} → ${f0(on.rps)} | ${pct(1 - on.rps / off.rps)} % |`,
      );
    }
  }
  out.push('');

  out.push('#### Session store calls per request (gate on: revocation check, server-side data)', '');
  out.push(
    'Counted in the Gatehouse service around its session store during the measured runs. The store is the one the service opens by default (the SQLite state database with connectors, else memory), or Redis for the Redis variant, where every one of these calls is answered from the instance’s own copy (see "Redis as the store" for what reached Redis).',
    '',
  );
  out.push('| variant | conns | calls per request |');
  out.push('|---|---:|---:|');
  const storeVariants: Record<string, string> = {
    'gw-gate-direct': 'pre-auth, forwarding direct (SQLite)',
    'tunnel-gate': 'pre-auth, tunnel (TLS) (SQLite)',
    'tunnel-gate-redis': 'pre-auth, tunnel (TLS) (Redis)',
  };
  for (const [key, name] of Object.entries(storeVariants)) {
    for (const connections of CONCURRENCY) {
      const figures = gets[key]?.[connections];
      if (figures?.storeOpsPerRequest === undefined) continue;
      out.push(`| ${name} | ${connections} | ${figures.storeOpsPerRequest.toFixed(2)} |`);
    }
  }
  out.push('');
  out.push(...redisSection(results));
  out.push(...workersSection(gets, CONCURRENCY, CORES, 'direct'));

  out.push(`#### ${TRANSFER_BYTES / MiB} MiB transfers, one connection (median of ${TRANSFER_RUNS}, after ${TRANSFER_WARM} warm-up runs)`, '');
  out.push('| variant | download MB/s | × direct | upload MB/s | × direct | runs (down; up) | warm-up runs, first = cold (down; up) |');
  out.push('|---|---:|---:|---:|---:|---|---|');
  const baseDown = median(transfers['direct']?.download ?? []);
  const baseUp = median(transfers['direct']?.upload ?? []);
  for (const [key, runs] of Object.entries(transfers)) {
    const down = median(runs.download);
    const up = median(runs.upload);
    out.push(
      `| ${label(key)} | ${f0(down)} | ${f2(down / baseDown)} | ${f0(up)} | ${f2(up / baseUp)} | ${runs.download.map(f0).join(', ')}; ${runs.upload.map(f0).join(', ')} | ${runs.warmDownload.map(f0).join(', ')}; ${runs.warmUpload.map(f0).join(', ')} |`,
    );
  }
  out.push(
    '',
    'MB/s = MiB of body per second, measured by the client from request to last byte (download hashed as it arrives; upload hashed by the backend).',
    '',
  );

  out.push('#### Memory (RSS)', '');
  out.push(
    '| process | start | after GETs | after transfers | growth over transfers | the same, each after a full GC | of which JavaScript holds (heap + external) | peak (VmHWM) |',
  );
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const entry of results.memory) {
    const [start, gets2, end] = entry.points;
    const [, settledGets = NaN, settledEnd = NaN] = entry.settled;
    const [, liveGets = NaN, liveEnd = NaN] = entry.live;
    out.push(
      `| ${entry.label} | ${mib(start?.rss ?? NaN)} | ${mib(gets2?.rss ?? NaN)} | ${mib(end?.rss ?? NaN)} | ${mib((end?.rss ?? NaN) - (gets2?.rss ?? NaN))} | ${mib(settledEnd - settledGets)} (${mib(settledGets)} → ${mib(settledEnd)}) | ${mib(liveEnd - liveGets)} (${mib(liveGets)} → ${mib(liveEnd)}) | ${mib(end?.peak ?? NaN)} |`,
    );
  }
  out.push(
    '',
    `${results.variants.some((variant) => isWorkersKey(variant.key)) ? 'The `serve --workers` stacks have no row: a cluster worker takes no command from the bench (no IPC channel of ours, no inspector) to force the full GC these figures need, and they make no transfers. ' : ''}RSS as sampled counts buffers V8 has not collected yet: it starts a full collection only once external memory has grown by about 64 MiB, so a process that streams gigabytes sits up to that much above what it retains. "After a full GC" forces that collection first (over IPC in the proxies, through a loopback inspector in the connectors). The next column is what JavaScript still holds right after it: V8's heap in use plus its external memory, which counts every Buffer (the process's own \`process.memoryUsage()\`). Growth in RSS that this column does not show is native memory, mostly freed Buffer backing stores that glibc's allocator keeps for reuse rather than returning to the system: it is reached by the first bulk transfer and stays flat after it (see "Reading the results").`,
    '',
  );

  // Against the targets: the whole stack is the pre-auth app through the tunnel over TLS (bench/lib/targets.ts).
  out.push('#### Against the performance targets', '');
  if (QUICK) out.push('(--quick: runs of a second or two, checking that every variant answers correctly; these figures say nothing.)', '');
  out.push('| target | measured | met |', '|---|---|---|');
  for (const target of targetsOf(results)) out.push(`| ${target.label} | ${formatMeasured(target)} | ${target.met ? 'yes' : '**no**'} |`);
  out.push('', `![CPU per request, requests/s and MB/s of every variant as multiples of direct, with the target lines](benchmarks.svg)`);
  return out.join('\n');
}

// ---- profiles ---------------------------------------------------------------------

async function profiles(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-profiles-'));
  const connectorDir = (phase: string): string => join(dir, `connector-${phase}`);
  log('starting processes for profiling');
  const processes = await startCommon({
    gatewayDirect: false,
    ws: false,
    redis: false,
    workers: false,
    connectorNodeOptions: `--cpu-prof --cpu-prof-dir=${connectorDir('gets')}`,
  });
  const sections: string[] = [environment(), ''];
  try {
    const { gatewayTunnel } = processes;
    const t = gatewayTunnel.info;
    const gateTarget = async (): Promise<Target> => ({
      origin: t.origin,
      host: t.hosts.preauth,
      caFile: t.caFile,
      cookie: await gatewayTunnel.call<string>('cookie'),
    });
    const pass: Target = { origin: t.origin, host: t.hosts.passthrough, caFile: t.caFile };
    const seconds = Math.max(MEASURE, 15);

    const restartConnector = async (phase: string): Promise<void> => {
      const connector = processes.connectors[0]!;
      if ((await connector.process.stop('SIGTERM')) !== 0) throw new Error(`connector did not stop cleanly:\n${connector.process.stderr()}`);
      const options = { ...connector.options, nodeOptions: `--cpu-prof --cpu-prof-dir=${connectorDir(phase)}` };
      processes.connectors[0] = { ...connector, options, process: await runConnector(connector.registered, options) };
    };
    const connectorProfile = (phase: string): string => {
      const files = readdirSync(connectorDir(phase)).filter((name) => name.endsWith('.cpuprofile'));
      if (files.length !== 1) throw new Error(`expected one connector profile in ${connectorDir(phase)}, found ${files.join(', ')}`);
      return join(connectorDir(phase), files[0]!);
    };

    // Phase 1: 1 KiB GETs through the pre-auth app (gate on, tunnel over TLS), at 64 connections or the first --concurrency.
    const conns = values.concurrency ? Number(values.concurrency.split(',')[0]) : 64;
    if (loadgenKind === 'wrk') await runWrk(await gateTarget(), conns, WARM);
    const gate = await gateTarget();
    await gatewayTunnel.call('profileStart');
    const phaseNote = loadgenKind === 'wrk' ? `wrk -c${conns} for ${seconds} s` : `loadgen ${conns} connections for ${seconds} s`;
    if (loadgenKind === 'wrk') await runWrk(gate, conns, seconds);
    else await runLoadgen<GetResult>(['get', ...targetArgs(gate), '--connections', String(conns), '--duration', String(seconds)], (seconds + 60) * 1000);
    await gatewayTunnel.call('profileStop', { file: join(dir, 'gateway-gets.cpuprofile') });
    await restartConnector('transfers');
    sections.push(`##### 1 KiB GETs, pre-auth app through the tunnel (${phaseNote})`, '');
    sections.push(profileMarkdown('Gatehouse service (gateway)', summarizeProfile(join(dir, 'gateway-gets.cpuprofile'))), '');
    sections.push(profileMarkdown('connector (whole process life, including start-up)', summarizeProfile(connectorProfile('gets'))), '');

    // Phase 2: 256 MiB down and up, twice, through the pass-through app.
    await gatewayTunnel.call('profileStart');
    for (let run = 0; run < 2; run++) {
      for (const kind of ['download', 'upload'] as const) {
        const result = await runLoadgen<TransferResult>([kind, ...targetArgs(pass), '--bytes', String(TRANSFER_BYTES)], 600_000);
        if (!result.ok) throw new Error(`${kind} failed its check: ${JSON.stringify(result)}`);
      }
    }
    await gatewayTunnel.call('profileStop', { file: join(dir, 'gateway-transfers.cpuprofile') });
    const connector = processes.connectors[0]!;
    if ((await connector.process.stop('SIGTERM')) !== 0) throw new Error('connector did not stop cleanly');
    sections.push(`##### ${TRANSFER_BYTES / MiB} MiB down and up, twice, pass-through app through the tunnel`, '');
    sections.push(profileMarkdown('Gatehouse service (gateway)', summarizeProfile(join(dir, 'gateway-transfers.cpuprofile'))), '');
    sections.push(profileMarkdown('connector (whole process life, including start-up)', summarizeProfile(connectorProfile('transfers'))), '');
    return sections.join('\n');
  } finally {
    await stopAll(processes);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- main -----------------------------------------------------------------------------

function writeSection(marker: string, body: string): void {
  const doc = readFileSync(DOC, 'utf8');
  const begin = `<!-- ${marker}:begin -->`;
  const end = `<!-- ${marker}:end -->`;
  const from = doc.indexOf(begin);
  const to = doc.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${DOC} has no ${begin} … ${end} section`);
  writeFileSync(DOC, `${doc.slice(0, from + begin.length)}\n${body}\n${doc.slice(to)}`);
  log(`wrote the results into ${DOC}`);
}

const markdown = values.profile ? await profiles() : await benchmark();
process.stdout.write(`${markdown}\n`);
if (values.write) writeSection(values.profile ? 'bench-profile' : 'bench-results', markdown);
log('done');
