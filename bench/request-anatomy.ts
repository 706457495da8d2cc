/**
 * What one request costs in system calls and event-loop turns, per process:
 * the baseline (Express + http-proxy-middleware over TLS), and Gatehouse
 * through a TLS tunnel, pass-through and gate on. Counts, not times: strace
 * slows every process it traces, but the number of calls a request makes
 * does not depend on how fast they run, so the figures hold on a busy
 * machine.
 *
 *   node bench/request-anatomy.ts [--requests 3000] [--connections 1]
 *
 * Needs strace (`apt-get install -y strace`) and the right to trace the
 * bench's own children (root, or kernel.yama.ptrace_scope 0). Every part
 * runs in its own process as in `npm run bench`; each variant gets a warm-up
 * of 1,000 requests, then `strace -f -c` attaches to its serving processes
 * and to the backend for the measured requests (bench/loadgen.ts, keep-alive
 * 1 KiB GETs). An event-loop turn is one `epoll_pwait`: libuv calls it once
 * per turn, and no other thread of a Node process does.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BackendInfo } from './backend.ts';
import type { DirectProxyInfo } from './direct-proxy.ts';
import type { GatewayServiceInfo } from './gateway-service.ts';
import type { GetResult } from './loadgen.ts';
import { startChild, type Child } from './lib/child.ts';
import { registerConnector, runConnector } from './lib/connector.ts';
import { parseStraceSummary, type SyscallCounts } from './lib/strace-summary.ts';
import type { BenchTarget } from './lib/wrk.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const { values } = parseArgs({ options: { requests: { type: 'string', default: '3000' }, connections: { type: 'string', default: '1' } } });
const REQUESTS = Number(values.requests);
const CONNECTIONS = Number(values.connections);
if (!Number.isInteger(REQUESTS) || REQUESTS < 100) throw new Error(`--requests must be an integer ≥ 100, got ${values.requests}`);
if (!Number.isInteger(CONNECTIONS) || CONNECTIONS < 1) throw new Error(`--connections must be a positive integer, got ${values.connections}`);
if (spawnSync('strace', ['-V']).error) {
  process.stderr.write('request-anatomy: strace is not installed: apt-get install -y strace\n');
  process.exit(1);
}

type Target = BenchTarget;

interface Variant {
  readonly label: string;
  readonly target: () => Target | Promise<Target>;
  /** The processes that serve a request, by role. */
  readonly processes: ReadonlyArray<{ role: string; pid: number }>;
}

function log(message: string): void {
  process.stderr.write(`request-anatomy: ${message}\n`);
}

async function loadgen(target: Target, count: number): Promise<GetResult> {
  const args = ['get', '--origin', target.origin, '--host', target.host, '--ca', target.caFile, '--path', '/1k', '--expect-bytes', '1024'];
  if (target.cookie) args.push('--cookie', target.cookie);
  const child = spawn(process.execPath, [join(HERE, 'loadgen.ts'), ...args, '--connections', String(CONNECTIONS), '--count', String(count)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  await once(child, 'exit');
  const result = JSON.parse(out.trim().split('\n').pop() ?? '{}') as GetResult;
  if (result.errors > 0 || result.requests < count) throw new Error(`load generator: ${JSON.stringify(result)}`);
  return result;
}

/** strace -f -c on one process; resolves with its summary once stopped. */
function trace(pid: number): { ready: Promise<void>; stop: () => Promise<SyscallCounts> } {
  const child: ChildProcess = spawn('strace', ['-f', '-c', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  // strace says "attached" for each thread; the summary comes on stderr once it is interrupted.
  const ready = new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (/attached/.test(err)) resolve();
      else if (child.exitCode !== null) reject(new Error(`strace -p ${pid} failed: ${err}`));
      else setTimeout(check, 20);
    };
    check();
  });
  return {
    ready,
    stop: async () => {
      child.kill('SIGINT');
      await once(child, 'exit');
      return parseStraceSummary(err);
    },
  };
}

const CALLS = ['epoll_pwait', 'epoll_ctl', 'io_uring_enter', 'read', 'readv', 'recvfrom', 'write', 'writev', 'sendto', 'futex'] as const;

function row(role: string, counts: SyscallCounts, requests: number): string {
  const per = (n: number): string => (n / requests).toFixed(2);
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
  const others = total - CALLS.reduce((sum, name) => sum + (counts[name] ?? 0), 0);
  return `| ${role} | ${per(total)} | ${CALLS.map((name) => per(counts[name] ?? 0)).join(' | ')} | ${per(others)} |`;
}

const children: Array<Child<unknown>> = [];
const connectors: Array<{ stop: (signal?: NodeJS.Signals) => Promise<unknown> }> = [];
try {
  log('starting the backend, the direct proxy, a Gatehouse service and its connector');
  const backend = await startChild<BackendInfo>(join(HERE, 'backend.ts'), []);
  children.push(backend);
  const [direct, service] = await Promise.all([
    startChild<DirectProxyInfo>(join(HERE, 'direct-proxy.ts'), ['--backend', backend.info.url]),
    startChild<GatewayServiceInfo>(join(HERE, 'gateway-service.ts'), ['--backend', backend.info.url, '--connectors']),
  ]);
  children.push(direct, service);
  const options = { name: 'anatomy', tunnels: 2, transport: 'tls' as const };
  const connector = await runConnector(await registerConnector(service, options), options);
  connectors.push(connector);
  const connectorPid = connector.child.pid!;
  const s = service.info;
  const variants: Variant[] = [
    {
      label: 'direct hpm (baseline)',
      target: () => ({ origin: direct.info.url, host: direct.info.host, caFile: direct.info.caFile }),
      processes: [{ role: 'proxy', pid: direct.pid }],
    },
    {
      label: 'Gatehouse pass-through, tunnel (TLS)',
      target: () => ({ origin: s.origin, host: s.hosts.passthrough, caFile: s.caFile }),
      processes: [
        { role: 'gateway', pid: service.pid },
        { role: 'connector', pid: connectorPid },
      ],
    },
    {
      label: 'Gatehouse pre-auth (gate on), tunnel (TLS)',
      target: async () => ({ origin: s.origin, host: s.hosts.preauth, caFile: s.caFile, cookie: await service.call<string>('cookie') }),
      processes: [
        { role: 'gateway', pid: service.pid },
        { role: 'connector', pid: connectorPid },
      ],
    },
  ];
  const lines = [
    `${REQUESTS} keep-alive 1 KiB GETs over TLS at ${CONNECTIONS} connection(s) per variant, after 1,000 of warm-up; system calls per request, counted by strace -f -c`,
    '',
    `| variant: process | all | ${CALLS.join(' | ')} | other |`,
    `|---|---:|${CALLS.map(() => '---:').join('|')}|---:|`,
  ];
  for (const variant of variants) {
    const target = await variant.target();
    await loadgen(target, 1000);
    const traced = [...variant.processes, { role: 'backend', pid: backend.pid }].map((proc) => ({ ...proc, tracer: trace(proc.pid) }));
    await Promise.all(traced.map((proc) => proc.tracer.ready));
    const result = await loadgen(target, REQUESTS);
    for (const proc of traced) lines.push(row(`${variant.label}: ${proc.role}`, await proc.tracer.stop(), result.requests));
    log(`${variant.label}: ${result.requests} requests traced`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  for (const connector of connectors) await connector.stop('SIGTERM');
  for (const child of children.reverse()) await child.stop();
}
process.exit(0);
