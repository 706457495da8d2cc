/** The Markdown report of bench/slow-downloads.ts: memory of the gateway and the connector around N slow downloads. */
import { f0, mib } from './format.ts';
import { MiB } from './procfs.ts';
import type { SlowClientStats } from '../slow-download-client.ts';

export interface ProcessFigures {
  readonly label: string;
  /** RSS after a full GC before the downloads. */
  readonly beforeGc: number;
  /** Highest RSS sampled (once a second) while the downloads were open. */
  readonly peakSampled: number;
  /** RSS at the peak, then right after a full GC. */
  readonly peak: number;
  readonly peakGc: number;
  /** heapUsed + external after the peak's GC: what JavaScript holds, the rest of RSS being native. */
  readonly peakJs: number;
  /** RSS after a full GC once every download had ended. */
  readonly afterGc: number;
  /** VmHWM at the end. */
  readonly hwm: number;
}

export interface RunFigures {
  readonly settings: Record<string, string | number>;
  readonly processes: readonly ProcessFigures[];
  readonly client: SlowClientStats;
  /** Most tunnel streams in flight at once (the gateway's sessions together). */
  readonly maxTunnelStreams: number;
  readonly holdSeconds: number;
  readonly finishSeconds: number;
  readonly targetMiB: number;
  /** New small requests sent every second of the hold, each on a connection of its own: ms to its whole answer, undefined when it failed or timed out. */
  readonly probes: readonly Probes[];
}

export interface Probes {
  /** Whose requests, e.g. "another app of the group (signed in)". */
  readonly label: string;
  readonly ms: readonly (number | undefined)[];
}

/** How the probes fared: what a new visitor got while the slow downloads held their streams. */
export function probeLine(probes: Probes): string {
  const { label, ms } = probes;
  const answered = ms.filter((value): value is number => value !== undefined).sort((a, b) => a - b);
  if (answered.length === 0) return `A new 1 KiB request of ${label} every second of the hold: none of ${ms.length} answered.`;
  const median = answered[Math.floor((answered.length - 1) / 2)]!;
  return (
    `A new 1 KiB request of ${label} every second of the hold, on a connection of its own: ${answered.length} of ${ms.length} answered, ` +
    `median ${Math.round(median)} ms, slowest ${Math.round(answered.at(-1)!)} ms (TLS handshake included).`
  );
}

const growth = (from: number, to: number): string => `${to >= from ? '+' : ''}${Math.round((to - from) / MiB)} MiB`;

export function report(figures: RunFigures): string {
  const rows = figures.processes.map((p) =>
    [
      p.label,
      mib(p.beforeGc),
      mib(p.peakSampled),
      mib(p.peak),
      mib(p.peakGc),
      growth(p.beforeGc, p.peakGc),
      growth(p.beforeGc, p.peakSampled),
      mib(p.peakJs),
      mib(p.afterGc),
      growth(p.beforeGc, p.afterGc),
      mib(p.hwm),
      p.peakGc - p.beforeGc < figures.targetMiB * MiB ? 'yes' : 'no',
    ].join(' | '),
  );
  const client = figures.client;
  const errors = Object.entries(client.errors)
    .map(([error, count]) => `${error} × ${count}`)
    .join('; ');
  return [
    '| process | RSS before (after GC) | RSS peak, sampled | RSS at peak | RSS at peak, after GC | growth after GC | growth sampled | JS heap + external at peak | RSS after (after GC) | growth after | VmHWM | after-GC growth < ' +
      `${figures.targetMiB} MiB |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map((row) => `| ${row} |`),
    '',
    `Downloads: ${f0(client.started)} started, ${f0(client.maxOpen)} open at once (response head received), ` +
      `${f0(figures.maxTunnelStreams)} tunnel streams in flight at most; ${f0(client.completed)} completed, ${f0(client.cancelled)} cancelled, ` +
      `${f0(client.failed)} failed${errors ? ` (${errors})` : ''}; ${mib(client.bytesRead)} read by the clients. ` +
      `Held ${figures.holdSeconds.toFixed(1)} s, finished in ${figures.finishSeconds.toFixed(1)} s.`,
    '',
    ...figures.probes.flatMap((probes) => [probeLine(probes), '']),
    'Settings: ' +
      Object.entries(figures.settings)
        .map(([name, value]) => `${name} ${value}`)
        .join(', ') +
      '.',
  ].join('\n');
}
