/** wrk for the benchmark's GETs: one thread, keep-alive, GET /1k, its figures from bench/wrk-report.lua's JSON line. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const WRK_SCRIPT = fileURLToPath(new URL('../wrk-report.lua', import.meta.url));

export interface WrkTarget {
  readonly origin: string;
  readonly host: string;
  readonly cookie?: string;
}

/** A variant as the load generators reach it: also the CA that signed its certificate (bench/loadgen.ts checks it). */
export interface BenchTarget extends WrkTarget {
  readonly caFile: string;
}

export interface WrkFigures {
  readonly requests: number;
  readonly durationUs: number;
  readonly bytes: number;
  readonly connectErrors: number;
  readonly readErrors: number;
  readonly writeErrors: number;
  readonly statusErrors: number;
  readonly timeouts: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
}

export async function runWrk(target: WrkTarget, connections: number, seconds: number): Promise<WrkFigures> {
  const args = [
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    '--timeout',
    '10s',
    '-s',
    WRK_SCRIPT,
    '-H',
    `Host: ${target.host}`,
    ...(target.cookie ? ['-H', `Cookie: ${target.cookie}`] : []),
    `${target.origin}/1k`,
  ];
  const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  const line = /WRK_JSON (.+)/.exec(out)?.[1];
  if (code !== 0 || !line) throw new Error(`wrk failed (${code}):\n${out}`);
  return JSON.parse(line) as WrkFigures;
}
