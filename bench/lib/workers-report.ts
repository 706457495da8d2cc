/**
 * The benchmark's `gatehouse serve --workers` variants (bench/lib/serve-workers-stack.ts): their keys, and the
 * report's section that sets one worker against two, each as a multiple of direct in the same run.
 */
import { f0, f2, pct } from './format.ts';
import type { GetRecord } from './report-json.ts';

/** Worker counts measured side by side: the second is the one the first is compared with. */
export const WORKER_COUNTS = [1, 2] as const;
export const workersKey = (workers: number): string => `workers-${workers}`;
export const isWorkersKey = (key: string): boolean => key.startsWith('workers-');

export function workersSection(
  gets: Readonly<Record<string, Readonly<Record<number, GetRecord>>>>,
  concurrency: readonly number[],
  cores: number,
  baseline: string,
): string[] {
  const [one, two] = WORKER_COUNTS.map(workersKey) as [string, string];
  const rows = concurrency.flatMap((connections) => {
    const [direct, a, b] = [gets[baseline]?.[connections], gets[one]?.[connections], gets[two]?.[connections]];
    return direct && a && b ? [{ connections, direct, a, b }] : [];
  });
  if (rows.length === 0) return [];
  const out = ['#### Every core: `gatehouse serve --workers`', ''];
  out.push(
    'The whole stack through the CLI: `gatehouse serve --workers N` (gate on, a connector with tunnels to every worker, a Redis store of its own), measured like every variant above. CPU per request: the primary, every worker, the connector and redis-server; % of a core: the primary and the workers.',
    '',
  );
  out.push('| conns | req/s: 1 → 2 workers | 2 ÷ 1 | × direct: 1 / 2 workers | CPU µs per request: 1 / 2 workers | gateway CPU % of a core: 1 / 2 workers |');
  out.push('|---:|---|---:|---|---|---|');
  for (const { connections, direct, a, b } of rows) {
    out.push(
      `| ${connections} | ${f0(a.rps)} → ${f0(b.rps)} | ${f2(b.rps / a.rps)} | ${f2(a.rps / direct.rps)} / ${f2(b.rps / direct.rps)} | ${f0(a.cpuUsPerRequest.serving)} / ${f0(b.cpuUsPerRequest.serving)} | ${pct(a.cpu.proxy)} / ${pct(b.cpu.proxy)} |`,
    );
  }
  out.push(
    '',
    cores <= 2
      ? `This machine has ${cores} cores, and the second one is shared with the load generator, the connector, the backend and Redis: 2 ÷ 1 is what a second worker gets from what is left of it, not what a core of its own would add; CPU per request is the figure that carries to a larger host.`
      : `This machine has ${cores} cores, shared with the load generator, the connector, the backend and Redis: 2 ÷ 1 is what a second worker gets from what they leave; CPU per request is the figure that carries to a larger host.`,
    '',
  );
  return out;
}
