/**
 * Several rounds of one measurement combined into one record: the median of
 * every figure, with the lowest and highest round kept for the report. The
 * best round of each variant on its own is not used: on a shared machine the
 * rounds of two identical processes spread wider than the differences
 * measured, and picking each side's best round moves a ratio by that spread.
 */
import type { CpuShares, GetRecord, RoundRanges } from './report-json.ts';

export const median = (list: readonly number[]): number => {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : (sorted[Math.floor((sorted.length - 1) / 2)]! + sorted[Math.ceil((sorted.length - 1) / 2)]!) / 2;
};

const range = (list: readonly number[]): [number, number] => [Math.min(...list), Math.max(...list)];

/**
 * Medians per figure over the rounds (each figure on its own); errors and requests summed;
 * with more than one round, the range of the figures the report shows.
 * Whatever else a round carries (e.g. what reached the store) is taken from the round
 * whose requests/s is nearest the median.
 */
export function combineRounds<T extends GetRecord>(runs: readonly T[]): T {
  if (runs.length === 0) throw new Error('combineRounds: no round');
  const of = (pick: (run: T) => number): number => median(runs.map(pick));
  const rps = of((run) => run.rps);
  const nearest = runs.reduce((a, b) => (Math.abs(b.rps - rps) < Math.abs(a.rps - rps) ? b : a));
  const cpuKeys = Object.keys(nearest.cpu) as Array<keyof CpuShares>;
  const storeOps = runs.map((run) => run.storeOpsPerRequest).filter((n) => n !== undefined);
  return {
    ...nearest,
    rps,
    p50Ms: of((run) => run.p50Ms),
    p99Ms: of((run) => run.p99Ms),
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
    requests: runs.reduce((sum, run) => sum + run.requests, 0),
    cpu: Object.fromEntries(cpuKeys.map((key) => [key, of((run) => run.cpu[key])])) as unknown as CpuShares,
    cpuUsPerRequest: { serving: of((run) => run.cpuUsPerRequest.serving), backend: of((run) => run.cpuUsPerRequest.backend) },
    ...(storeOps.length > 0 ? { storeOpsPerRequest: median(storeOps) } : {}),
    ...(runs.length > 1 ? { range: rangesOf(runs) } : {}),
  };
}

function rangesOf(runs: readonly GetRecord[]): RoundRanges {
  return {
    rounds: runs.length,
    rps: range(runs.map((run) => run.rps)),
    p50Ms: range(runs.map((run) => run.p50Ms)),
    p99Ms: range(runs.map((run) => run.p99Ms)),
    servingUs: range(runs.map((run) => run.cpuUsPerRequest.serving)),
  };
}

/** "5,566 (5,100–5,900)": the median, then the lowest and highest round when there was more than one. */
export function withRange(value: number, rangeOf: readonly [number, number] | undefined, format: (n: number) => string): string {
  return rangeOf ? `${format(value)} (${format(rangeOf[0])}–${format(rangeOf[1])})` : format(value);
}

/**
 * The order of the variants in a round, rotated by one each round: no variant is always the first
 * after a pause (the next concurrency, the store's quiet period) or always right after the same heavy one.
 */
export function rotate<T>(variants: readonly T[], round: number): T[] {
  return variants.map((_, i) => variants[(i + round) % variants.length]!);
}
