/**
 * The performance targets (docs/benchmarks.md), each a ratio measured in the
 * same run against direct Express + http-proxy-middleware behind the same TLS
 * front, evaluated from a run's figures. "Whole stack" is the pre-auth app
 * (session gate on) through a connector's tunnel over TLS.
 */

/** The variant every ratio is taken against, and the one the targets are about. */
export const BASELINE = 'direct';
export const WHOLE_STACK = 'tunnel-gate';

/** Pairs of the same stack with the session gate off and on. */
export const GATE_PAIRS = [
  { off: 'gw-pass-direct', on: 'gw-gate-direct', label: 'forwarding direct' },
  { off: 'tunnel-pass', on: 'tunnel-gate', label: 'tunnel (TLS)' },
] as const;

/** Requests/s at least this many times direct's. */
export const rpsTarget = (connections: number): number => (connections <= 1 ? 0.8 : 1.0);
/** p99 latency at most this many times direct's. */
export const p99Target = (connections: number): number => (connections <= 1 ? 1.5 : 1.3);
/** CPU per request (the processes that serve it) at most this many times direct's. */
export const CPU_TARGET = 1.0;
/** MB/s of a bulk transfer, each way, at least this many times direct's. */
export const TRANSFER_TARGET = 0.8;
/** RSS growth over the transfers, after a full GC, per Gatehouse process. */
export const RSS_GROWTH_LIMIT_BYTES = 64 * 1024 * 1024;
/** What the session gate may cost in requests/s, at every concurrency. */
export const GATE_COST_LIMIT = 0.05;

export interface TargetInput {
  readonly concurrency: readonly number[];
  /** Per variant key, per concurrency: requests/s, p99 and CPU µs per request of the processes that serve it. */
  readonly gets: Readonly<Record<string, Readonly<Record<number, { readonly rps: number; readonly p99Ms: number; readonly cpuUsPerRequest: number }>>>>;
  /** Per variant key: median MB/s each way. */
  readonly transfers: Readonly<Record<string, { readonly download: number; readonly upload: number }>>;
  /** Per Gatehouse process: RSS after a full GC after the GETs and after the transfers. */
  readonly memory: ReadonlyArray<{ readonly label: string; readonly afterGets: number; readonly afterTransfers: number }>;
}

export interface TargetResult {
  readonly label: string;
  readonly measured: number;
  /** How `measured` reads: a ratio to direct, a share (0.05 = 5 %), or bytes. */
  readonly unit: 'ratio' | 'share' | 'bytes';
  readonly limit: number;
  /** 'min': met when measured ≥ limit; 'max': met when measured ≤ limit (below, for bytes). */
  readonly kind: 'min' | 'max';
  readonly met: boolean;
}

function result(label: string, measured: number, unit: TargetResult['unit'], kind: TargetResult['kind'], limit: number): TargetResult {
  const met = Number.isFinite(measured) && (kind === 'min' ? measured >= limit : unit === 'bytes' ? measured < limit : measured <= limit);
  return { label, measured, unit, limit, kind, met };
}

export function evaluateTargets(input: TargetInput): TargetResult[] {
  const out: TargetResult[] = [];
  const base = input.gets[BASELINE] ?? {};
  const whole = input.gets[WHOLE_STACK] ?? {};
  for (const connections of input.concurrency) {
    const g = whole[connections];
    const b = base[connections];
    if (!g || !b) continue;
    // CPU per request first: the figure that the machine's other load moves least.
    out.push(
      result(
        `whole stack CPU per request (gateway + connector) ≤ ${CPU_TARGET.toFixed(1)}× direct's (the proxy), ${connections} conn`,
        g.cpuUsPerRequest / b.cpuUsPerRequest,
        'ratio',
        'max',
        CPU_TARGET,
      ),
    );
    out.push(
      result(`whole stack req/s ≥ ${rpsTarget(connections).toFixed(1)}× direct, ${connections} conn`, g.rps / b.rps, 'ratio', 'min', rpsTarget(connections)),
    );
    out.push(
      result(`whole stack p99 ≤ ${p99Target(connections).toFixed(1)}× direct, ${connections} conn`, g.p99Ms / b.p99Ms, 'ratio', 'max', p99Target(connections)),
    );
  }
  const wholeTransfers = input.transfers[WHOLE_STACK];
  const baseTransfers = input.transfers[BASELINE];
  if (wholeTransfers && baseTransfers) {
    for (const kind of ['download', 'upload'] as const) {
      out.push(
        result(`whole stack ${kind} MB/s ≥ ${TRANSFER_TARGET.toFixed(1)}× direct`, wholeTransfers[kind] / baseTransfers[kind], 'ratio', 'min', TRANSFER_TARGET),
      );
    }
  }
  for (const entry of input.memory) {
    out.push(
      result(
        `${entry.label}: RSS growth over the transfers, after a full GC, < 64 MiB`,
        entry.afterTransfers - entry.afterGets,
        'bytes',
        'max',
        RSS_GROWTH_LIMIT_BYTES,
      ),
    );
  }
  for (const pair of GATE_PAIRS) {
    for (const connections of input.concurrency) {
      const off = input.gets[pair.off]?.[connections];
      const on = input.gets[pair.on]?.[connections];
      if (!off || !on) continue;
      out.push(
        result(
          `session gate costs ≤ ${GATE_COST_LIMIT * 100} % of req/s (${pair.label}), ${connections} conn`,
          1 - on.rps / off.rps,
          'share',
          'max',
          GATE_COST_LIMIT,
        ),
      );
    }
  }
  return out;
}

/** The measured figure as the targets table prints it. */
export function formatMeasured(target: TargetResult): string {
  if (!Number.isFinite(target.measured)) return '—';
  if (target.unit === 'ratio') return `${target.measured.toFixed(3)}×`;
  if (target.unit === 'share') return `${(target.measured * 100).toFixed(1)} %`;
  return `${Math.round(target.measured / (1024 * 1024))} MiB`;
}
