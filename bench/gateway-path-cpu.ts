/**
 * The gateway's CPU time per request on its own request path, forwarding
 * direct (no tunnel), gate on and gate off, beside the baseline (Express +
 * http-proxy-middleware, bench/direct-proxy.ts): µs of CPU of the proxy
 * process per request, from /proc (the scheduler's run time of every
 * thread, bench/lib/work-meter.ts), a figure that a busy shared machine blurs
 * far less than requests/s.
 *
 *   node bench/gateway-path-cpu.ts [--requests 20000] [--concurrency 1,16] [--runs 3] [--profile DIR] [--against CHECKOUT] [--sqlite] [--instructions]
 *
 * Every part runs in its own process, as in `npm run bench`: the backend, the
 * direct proxy, one Gatehouse service forwarding direct (bench/gateway-service.ts)
 * and the load generator (bench/loadgen.ts, keep-alive 1 KiB GETs over TLS).
 * Variants are interleaved in each run; the median and the spread of the runs
 * are printed with the load average. With --profile, a V8 CPU profile of the
 * gateway is taken over one more gate-on run per concurrency and summarized.
 *
 * With --instructions, the proxies run under valgrind (callgrind) and the
 * figure is thousands of instructions per request instead of CPU time: the
 * same for a run on a quiet machine and on a busy one, so that a difference
 * of a few percent (the session gate's, a change's) can be read at all.
 * Valgrind makes each process some fifty times slower: use a few thousand
 * requests (the warm-up is as many, at least 1,000, per variant).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BackendInfo } from './backend.ts';
import type { DirectProxyInfo } from './direct-proxy.ts';
import type { GatewayServiceInfo } from './gateway-service.ts';
import type { GetResult } from './loadgen.ts';
import { startChild, type Child } from './lib/child.ts';
import { summarizeProfile } from './lib/cpu-profile.ts';
import { workMeter } from './lib/work-meter.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '1,16' },
    runs: { type: 'string', default: '3' },
    profile: { type: 'string' },
    // Another checkout (e.g. `git archive` of an earlier commit, with node_modules linked): its gateway measured in the same runs.
    against: { type: 'string' },
    // Each Gatehouse service on a SQLite file of its own (what `gatehouse serve` opens by default) instead of memory.
    sqlite: { type: 'boolean', default: false },
    // Thousands of instructions per request, counted by valgrind, instead of µs of CPU time.
    instructions: { type: 'boolean', default: false },
  },
});

const METER = workMeter(values.instructions);
// Under valgrind everything in the process is slower: starting, signing in (the identity provider lives there), answering.
const SLOW = METER.slow;

/** A full garbage collection in `child`'s process (it runs with --expose-gc when counting). */
const gcOf =
  (child: Child<unknown>): (() => Promise<unknown>) =>
  () =>
    child.call('gc', undefined, 60_000 * SLOW);

interface Target {
  readonly name: string;
  readonly pid: number;
  readonly origin: string;
  readonly host: string;
  readonly caFile: string;
  /** Signs in again before each run: the gateway re-seals a cookie whose last-seen time is over a minute old. */
  readonly cookie?: () => Promise<string>;
  /** A full garbage collection in the target's process (counting only: each count then starts from the same heap). */
  readonly gc: () => Promise<unknown>;
}

async function loadgen(target: Target, connections: number, count: number): Promise<GetResult> {
  const cookie = target.cookie ? await target.cookie() : undefined;
  const args = ['get', '--origin', target.origin, '--host', target.host, '--ca', target.caFile, '--path', '/1k'];
  args.push('--connections', String(connections), '--count', String(count), '--expect-bytes', '1024', '--max-seconds', '600');
  if (cookie) args.push('--cookie', cookie);
  const child = spawn(process.execPath, [join(HERE, 'loadgen.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err = (err + chunk).slice(-10_000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 660_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  if (code !== 0) throw new Error(`loadgen failed (${code}):\n${err}`);
  return JSON.parse(out.trim().split('\n').pop()!) as GetResult;
}

/** CPU µs per request of the target's process over `count` requests, and the requests/s seen meanwhile. */
async function measure(target: Target, connections: number, count: number): Promise<{ us: number; rps: number }> {
  // The sign-in (gate on) happens before the CPU reading starts: its cost is not the request path's.
  const cookie = target.cookie ? await target.cookie() : undefined;
  const fixed: Target = { ...target, ...(cookie ? { cookie: () => Promise.resolve(cookie) } : {}) };
  // What the sign-in left running in the service (the identity provider lives there too) settles first.
  if (cookie) await new Promise((done) => setTimeout(done, 1000 * SLOW));
  if (METER.counting) await target.gc();
  const before = await METER.reading(target.pid);
  const result = await loadgen(fixed, connections, count);
  const after = await METER.reading(target.pid);
  const bad = result.errors + result.wrongBodies + Object.entries(result.statuses).reduce((n, [status, k]) => (status === '200' ? n : n + k), 0);
  if (bad > 0 || !result.complete)
    throw new Error(`${target.name}: ${bad} failed requests (${JSON.stringify(result.statuses)}) ${result.firstErrors.join('; ')}`);
  return { us: METER.perRequest(after - before, result.requests), rps: result.rps };
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

function printProfile(file: string): void {
  const summary = summarizeProfile(file, 30);
  const pct = (share: number): string => `${(share * 100).toFixed(1).padStart(5)} %`;
  process.stdout.write(`\nprofile ${file}: busy ${summary.busyMs.toFixed(0)} ms\n`);
  for (const a of summary.areas) process.stdout.write(`  ${pct(a.share)}  ${a.area}\n`);
  for (const f of summary.ours.slice(0, 20)) process.stdout.write(`  ${pct(f.share)}  ${f.frame}\n`);
  for (const f of summary.functions) process.stdout.write(`  ${pct(f.share)}  ${f.name}  ${f.where}\n`);
}

async function main(): Promise<void> {
  const requests = Number(values.requests);
  const concurrency = values.concurrency.split(',').map(Number);
  const runs = Number(values.runs);
  await METER.ready();
  const backend = await startChild<BackendInfo>(join(HERE, 'backend.ts'), []);
  const children: Child<unknown>[] = [backend];
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-path-cpu-'));
  // The proxies measured; the backend and the load generator are not, and run at full speed.
  const measured = METER.counting ? { wrapper: METER.wrapper(dir), readyTimeoutMs: 60_000 * SLOW, nodeArgs: ['--expose-gc'] } : {};
  try {
    const direct = await startChild<DirectProxyInfo>(join(HERE, 'direct-proxy.ts'), ['--backend', backend.info.url], measured);
    children.push(direct);
    const storeArgs = (name: string): string[] => (values.sqlite ? ['--store-url', `sqlite:${join(dir, `${name}.db`)}`] : []);
    const service = await startChild<GatewayServiceInfo>(join(HERE, 'gateway-service.ts'), ['--backend', backend.info.url, ...storeArgs('service')], measured);
    children.push(service);
    const gw = service.info;
    const targets: Target[] = [
      {
        name: 'direct hpm (baseline)',
        pid: direct.pid,
        origin: direct.info.url,
        host: direct.info.host,
        caFile: direct.info.caFile,
        gc: gcOf(direct),
      },
      {
        name: 'Gatehouse pass-through',
        pid: service.pid,
        origin: gw.origin,
        host: gw.hosts.passthrough,
        caFile: gw.caFile,
        gc: gcOf(service),
      },
      {
        name: 'Gatehouse gate on',
        pid: service.pid,
        origin: gw.origin,
        host: gw.hosts.preauth,
        caFile: gw.caFile,
        cookie: () => service.call<string>('cookie', undefined, 60_000 * SLOW),
        gc: gcOf(service),
      },
    ];
    if (values.against !== undefined) {
      const other = await startChild<GatewayServiceInfo>(
        join(resolve(values.against), 'bench', 'gateway-service.ts'),
        ['--backend', backend.info.url, ...storeArgs('against')],
        measured,
      );
      children.push(other);
      const common = { pid: other.pid, origin: other.info.origin, caFile: other.info.caFile, gc: gcOf(other) };
      targets.push(
        { name: 'against: pass-through', ...common, host: other.info.hosts.passthrough },
        { name: 'against: gate on', ...common, host: other.info.hosts.preauth, cookie: () => other.call<string>('cookie', undefined, 60_000 * SLOW) },
      );
    }
    const counted = METER.counting ? ', instructions counted by valgrind (callgrind)' : '';
    process.stdout.write(`Node ${process.version}; ${requests} keep-alive 1 KiB GETs over TLS per measurement${counted}; load average at start: ${load()}\n`);
    // Warm-up: JIT, TLS sessions, agents, every variant.
    for (const target of targets) await measure(target, 16, METER.counting ? Math.max(1000, requests) : Math.min(requests, 5000));
    // What each process burns with no request at all (timers, housekeeping): at a few hundred requests per second,
    // a few ms per second of it shows in the µs per request.
    const pids = [...new Set(targets.map((target) => target.pid))];
    const idleBefore = await Promise.all(pids.map(METER.reading));
    await new Promise((done) => setTimeout(done, 5000));
    const idleAfter = await Promise.all(pids.map(METER.reading));
    const idle = pids.map(
      (pid, index) => `${targets.find((target) => target.pid === pid)!.name}: ${METER.perRequest(idleAfter[index]! - idleBefore[index]!, 5).toFixed(1)}`,
    );
    process.stdout.write(`idle ${METER.unit} per second: ${idle.join('; ')}\n`);
    for (const connections of runs > 0 ? concurrency : []) {
      const figures = new Map<string, { us: number[]; rps: number[] }>(targets.map((t) => [t.name, { us: [], rps: [] }]));
      for (let run = 0; run < runs; run++) {
        for (const target of targets) {
          const { us, rps } = await measure(target, connections, requests);
          figures.get(target.name)!.us.push(us);
          figures.get(target.name)!.rps.push(rps);
        }
      }
      const base = median(figures.get(targets[0]!.name)!.us);
      process.stdout.write(`\n${connections} connection(s), load average now ${load()}\n`);
      process.stdout.write(
        `| variant | ${METER.unit} per request (median) | × baseline | runs (${METER.shortUnit}) | req/s (median) |\n|---|---:|---:|---|---:|\n`,
      );
      for (const target of targets) {
        const { us, rps } = figures.get(target.name)!;
        const m = median(us);
        const runsShown = us.map((x) => x.toFixed(0)).join(', ');
        process.stdout.write(`| ${target.name} | ${m.toFixed(0)} | ${(m / base).toFixed(2)} | ${runsShown} | ${median(rps).toFixed(0)} |\n`);
      }
      for (const [off, on] of [
        [1, 2],
        [3, 4],
      ] as const) {
        if (!targets[on]) continue;
        const offRuns = figures.get(targets[off]!.name)!.us;
        const onRuns = figures.get(targets[on].name)!.us;
        const offUs = median(offRuns);
        const onUs = median(onRuns);
        // Both ran in every run: the median of the runs' differences is steadier than the difference of the medians.
        const pairs = onRuns.map((value, index) => value - offRuns[index]!);
        process.stdout.write(
          `${targets[on].name}: +${(onUs - offUs).toFixed(0)} ${METER.shortUnit} per request over pass-through (${(((onUs - offUs) / offUs) * 100).toFixed(1)} %); ` +
            `median of the runs' differences +${median(pairs).toFixed(0)} (${pairs.map((x) => x.toFixed(0)).join(', ')})\n`,
        );
      }
    }
    if (values.profile !== undefined) {
      const profileDir = resolve(values.profile);
      mkdirSync(profileDir, { recursive: true });
      // The baseline's profile, for comparison: a second direct proxy with --cpu-prof (written when it exits).
      const baselineDir = join(profileDir, 'baseline');
      const profiled = await startChild<DirectProxyInfo>(join(HERE, 'direct-proxy.ts'), ['--backend', backend.info.url], {
        nodeArgs: ['--cpu-prof', '--cpu-prof-dir', baselineDir, '--cpu-prof-interval', '500'],
      });
      const baseline: Target = { ...targets[0]!, pid: profiled.pid, origin: profiled.info.url, host: profiled.info.host, caFile: profiled.info.caFile };
      await measure(baseline, concurrency[0]!, requests);
      await profiled.stop();
      for (const file of readdirSync(baselineDir).filter((name) => name.endsWith('.cpuprofile'))) printProfile(join(baselineDir, file));
      for (const connections of concurrency) {
        for (const target of targets.slice(1, 3)) {
          const file = join(profileDir, `gateway-${target.name.split(' ').pop()}-${connections}.cpuprofile`);
          // Signed in before the profile starts: the sign-in is not the request path.
          const cookie = target.cookie ? await target.cookie() : undefined;
          await service.call('profileStart');
          await measure({ ...target, ...(cookie ? { cookie: () => Promise.resolve(cookie) } : {}) }, connections, requests);
          await service.call('profileStop', { file });
          printProfile(file);
        }
      }
    }
  } finally {
    for (const child of children.reverse()) await child.stop(10_000 * SLOW);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
