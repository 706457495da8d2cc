/** The soak's closing report: one table of figures and one of checks, printed on stdout. */
import type { Tally } from './tally.ts';

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** Machine-readable figures, printed as the last line (`SOAK-SUMMARY {json}`) for the CI test. */
export interface SummaryFigures {
  readonly mode: 'quick' | 'full';
  readonly seconds: number;
  readonly requests: number;
  readonly ok: Record<string, number>;
  readonly refused: Record<string, number>;
  readonly cut: Record<string, number>;
  readonly staleRetries: number;
  readonly failures: number;
  readonly rssAtRestMiB: number;
  readonly rssStartMiB: number;
  readonly rssEndMiB: number;
  readonly checks: Record<string, boolean>;
  readonly passed: boolean;
}

export function table(rows: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`).join('\n');
}

export function summarize(
  tally: Tally,
  checks: readonly Check[],
  extra: { mode: 'quick' | 'full'; seconds: number; rssAtRest: number; rssStart: number; rssEnd: number },
): {
  text: string;
  figures: SummaryFigures;
} {
  const MiB = 1024 * 1024;
  const rows: Array<readonly [string, string]> = [
    ['mode', extra.mode],
    ['load, seconds', extra.seconds.toFixed(0)],
    ['requests and WebSocket events', String(tally.total())],
    ...[...tally.ok].map(([kind, count]) => [`  ok ${kind}`, String(count)] as const),
    ...[...tally.clear].map(([key, count]) => [`  refused ${key}`, String(count)] as const),
    ...[...tally.cut].map(([key, count]) => [`  cut: ${key}`, String(count)] as const),
    ['  stale keep-alive retries', String(tally.staleRetries)],
    ['  failures', String(tally.failureCount)],
    [
      'gateway RSS after GC, at rest → warmed up → end',
      `${(extra.rssAtRest / MiB).toFixed(1)} → ${(extra.rssStart / MiB).toFixed(1)} → ${(extra.rssEnd / MiB).toFixed(1)} MiB`,
    ],
  ];
  const checkRows = checks.map((check) => [`${check.ok ? 'PASS' : 'FAIL'} ${check.name}`, check.detail] as const);
  const failures = tally.failures.map((failure) => `  ${(failure.atMs / 1000).toFixed(1)} s ${failure.kind}: ${failure.what}`);
  const passed = checks.every((check) => check.ok);
  const text = [
    '',
    'Soak figures',
    table(rows),
    '',
    'Checks',
    table(checkRows),
    ...(tally.cutSamples.length ? ['', 'Cuts (first few)', ...tally.cutSamples.map((sample) => `  ${sample}`)] : []),
    ...(failures.length ? ['', `Failures (first ${failures.length} of ${tally.failureCount})`, ...failures] : []),
    '',
    passed ? 'SOAK PASSED' : 'SOAK FAILED',
  ].join('\n');
  return {
    text,
    figures: {
      mode: extra.mode,
      seconds: Math.round(extra.seconds),
      requests: tally.total(),
      ok: Object.fromEntries(tally.ok),
      refused: Object.fromEntries(tally.clear),
      cut: Object.fromEntries(tally.cut),
      staleRetries: tally.staleRetries,
      failures: tally.failureCount,
      rssAtRestMiB: Math.round((extra.rssAtRest / MiB) * 10) / 10,
      rssStartMiB: Math.round((extra.rssStart / MiB) * 10) / 10,
      rssEndMiB: Math.round((extra.rssEnd / MiB) * 10) / 10,
      checks: Object.fromEntries(checks.map((check) => [check.name, check.ok])),
      passed,
    },
  };
}
