import type { Metric, Registry } from 'prom-client';
import { MAX_COUNTER_CELLS, OTHER } from './counter-cells.ts';

/** One sample as prom-client's registry reads it from a metric's get(). */
interface HistogramSample {
  readonly metricName: string;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
}

/** What prom-client's registry reads from a histogram. */
export interface HistogramObject {
  readonly name: string;
  readonly help: string;
  readonly type: 'histogram';
  readonly aggregator: 'sum';
  readonly values: readonly HistogramSample[];
}

interface Cell {
  /** Observations per bucket (not cumulative), the last one above every bound. */
  readonly counts: number[];
  sum: number;
  count: number;
}

export interface HistogramCellsConfig {
  readonly name: string;
  readonly help: string;
  readonly labelName: string;
  /** Upper bounds, ascending. */
  readonly buckets: readonly number[];
}

/**
 * A Prometheus histogram with one label, for the request path: `observe()` finds its cell with one Map lookup and
 * adds to a few numbers (prom-client's own histogram builds and checks a label object on every call, several times
 * the cost). The registry reads it in prom-client's format at scrape time.
 */
export class HistogramCells {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #labelName: string;
  readonly #bounds: readonly number[];
  readonly #cells = new Map<string, Cell>();

  constructor(registry: Registry, config: HistogramCellsConfig) {
    this.name = config.name;
    this.help = config.help;
    this.#labelName = config.labelName;
    this.#bounds = [...config.buckets];
    // prom-client's registry reads any object with a name and get(); its typings only list its own classes.
    registry.registerMetric(this as unknown as Metric);
  }

  observe(label: string, value: number): void {
    let cell = this.#cells.get(label);
    if (cell === undefined) {
      const key = this.#cells.size >= MAX_COUNTER_CELLS ? OTHER : label;
      cell = this.#cells.get(key) ?? { counts: new Array<number>(this.#bounds.length + 1).fill(0), sum: 0, count: 0 };
      this.#cells.set(key, cell);
    }
    const bounds = this.#bounds;
    let index = 0;
    while (index < bounds.length && value > (bounds[index] as number)) index++;
    (cell.counts[index] as number) += 1;
    cell.sum += value;
    cell.count += 1;
  }

  get(): Promise<HistogramObject> {
    return Promise.resolve(histogramObject(this, this.#labelName, this.#bounds, this.#cells));
  }
}

/** One histogram's cells (counts per bucket, not cumulative; the last one above every bound) as prom-client's registry reads them. */
export function histogramObject(
  metric: { readonly name: string; readonly help: string },
  labelName: string,
  bounds: readonly number[],
  cells: Iterable<readonly [string, { readonly counts: readonly number[]; readonly sum: number; readonly count: number }]>,
): HistogramObject {
  const { name } = metric;
  const values: HistogramSample[] = [];
  for (const [label, cell] of cells) {
    let cumulative = 0;
    bounds.forEach((bound, index) => {
      cumulative += cell.counts[index] as number;
      values.push({ metricName: `${name}_bucket`, labels: { [labelName]: label, le: bound }, value: cumulative });
    });
    values.push({ metricName: `${name}_bucket`, labels: { [labelName]: label, le: '+Inf' }, value: cell.count });
    values.push({ metricName: `${name}_sum`, labels: { [labelName]: label }, value: cell.sum });
    values.push({ metricName: `${name}_count`, labels: { [labelName]: label }, value: cell.count });
  }
  return { name, help: metric.help, type: 'histogram', aggregator: 'sum', values };
}
