/**
 * A benchmark run as data (docs/benchmarks.json): every figure, the machine,
 * its load and the settings, so that runs can be compared and charted
 * without parsing the Markdown tables.
 */
import { writeFileSync } from 'node:fs';
import type { TargetResult } from './targets.ts';

export interface CpuShares {
  /** Shares of one core during the measured run (2 cores = 2). */
  readonly proxy: number;
  readonly connector: number;
  readonly store: number;
  readonly backend: number;
  readonly loadgen: number;
  readonly rest: number;
}

/** Lowest and highest round of the figures the report shows with a range (runs of more than one round). */
export interface RoundRanges {
  readonly rounds: number;
  readonly rps: readonly [number, number];
  readonly p50Ms: readonly [number, number];
  readonly p99Ms: readonly [number, number];
  readonly servingUs: readonly [number, number];
}

/** One variant at one concurrency: with several rounds, the median of each figure over the rounds (errors and requests summed). */
export interface GetRecord {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly requests: number;
  readonly cpu: CpuShares;
  /** µs of CPU (the scheduler's run time of every thread) per request: the processes that serve it (proxy, connector, store server), and the backend. */
  readonly cpuUsPerRequest: { readonly serving: number; readonly backend: number };
  readonly storeOpsPerRequest?: number;
  readonly redisCommandsPerRequest?: number;
  readonly range?: RoundRanges;
}

export interface TransferRecord {
  /** MB/s (MiB of body per second). */
  readonly downloadMedian: number;
  readonly uploadMedian: number;
  readonly download: readonly number[];
  readonly upload: readonly number[];
  readonly warmDownload: readonly number[];
  readonly warmUpload: readonly number[];
}

export interface MemoryRecord {
  readonly label: string;
  /** RSS and peak as sampled at start, after the GETs, after the transfers (bytes). */
  readonly points: ReadonlyArray<{ readonly rss: number; readonly peak: number }>;
  /** RSS right after a full GC at the same points (bytes). */
  readonly settled: readonly number[];
  /** What JavaScript held right after each full GC: V8 heap used + external memory, Buffers included (bytes). */
  readonly live: readonly number[];
}

/** What was checked of a variant's answers before any figure was taken. */
export interface VariantChecks {
  /** 200 and the 1 KiB body on every check request. */
  readonly get: boolean;
  /** Signed in through the identity provider's login form; without the cookie, not let through. */
  readonly signIn?: boolean;
  /** A download and an upload with their SHA-256 equal. */
  readonly transfer?: boolean;
}

export interface BenchReport {
  readonly schema: 1;
  readonly date: string;
  readonly command: string;
  readonly machine: {
    readonly node: string;
    readonly platform: string;
    readonly arch: string;
    readonly cpuModel: string;
    readonly cores: number;
    readonly loadgen: string;
  };
  /** 1, 5 and 15 minute load averages. */
  readonly loadAverage: { readonly start: readonly number[]; readonly end: readonly number[] };
  readonly settings: {
    readonly quick: boolean;
    readonly warmSeconds: number;
    readonly settleSeconds: number;
    readonly measureSeconds: number;
    readonly concurrency: readonly number[];
    readonly rounds: number;
    readonly transferMiB: number;
    readonly transferWarmRuns: number;
    readonly transferRuns: number;
    readonly tunnels: number;
    readonly webSocket: boolean;
    readonly redis: boolean;
    /** Worker counts of the `gatehouse serve --workers` variants (keys workers-N); empty when they were skipped. Absent in runs before them. */
    readonly serveWorkers?: readonly number[];
  };
  readonly variants: ReadonlyArray<{ readonly key: string; readonly label: string }>;
  /** Per variant key, per concurrency (as a string key). */
  readonly gets: Readonly<Record<string, Readonly<Record<string, GetRecord>>>>;
  readonly transfers: Readonly<Record<string, TransferRecord>>;
  readonly memory: readonly MemoryRecord[];
  readonly checks: Readonly<Record<string, VariantChecks>>;
  readonly targets: readonly TargetResult[];
}

export const parseLoadAverage = (line: string): number[] => line.trim().split(/\s+/).slice(0, 3).map(Number);

/** The report as JSON: two-space indented, figures that could not be measured (NaN) as null. */
export function benchJson(report: BenchReport): string {
  return `${JSON.stringify(report, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 2)}\n`;
}

export function writeBenchJson(file: string, report: BenchReport): void {
  writeFileSync(file, benchJson(report));
}
