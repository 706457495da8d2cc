import { Counter, type Registry } from 'prom-client';

/** Label combinations one counter keeps at most; past it, new ones are counted under `other` in every label. */
export const MAX_COUNTER_CELLS = 2_000;

/** The label value for anything outside a label's known set. */
export const OTHER = 'other';

interface Cell {
  readonly labels: Readonly<Record<string, string>>;
  value: number;
}

type Level = Map<string, Level | Cell>;

export interface CounterCellsConfig {
  readonly name: string;
  readonly help: string;
  /** One to three label names. */
  readonly labelNames: readonly string[];
}

/**
 * A Prometheus counter for the request path: `inc()` finds its cell with one
 * Map lookup per label value (strings the caller already holds) and adds to a
 * number, with no label object or label string built per call; prom-client
 * reads the cells when it is scraped. Callers pass label values from bounded
 * sets (configured app ids, fixed outcome names); the cell cap is a backstop.
 */
export class CounterCells {
  readonly #names: readonly string[];
  readonly #root: Level = new Map();
  readonly #cells: Cell[] = [];
  #overflow: Cell | undefined;

  constructor(registry: Registry, config: CounterCellsConfig) {
    if (config.labelNames.length < 1 || config.labelNames.length > 3)
      throw new TypeError(`${config.name}: one to three label names, got ${config.labelNames.length}`);
    this.#names = config.labelNames;
    const cells = this.#cells;
    const overflow = (): Cell | undefined => this.#overflow;
    new Counter({
      name: config.name,
      help: config.help,
      labelNames: [...config.labelNames],
      registers: [registry],
      collect() {
        this.reset();
        for (const cell of cells) this.inc(cell.labels, cell.value);
        const extra = overflow();
        if (extra) this.inc(extra.labels, extra.value);
      },
    });
  }

  /** Series kept (the overflow cell included). */
  get size(): number {
    return this.#cells.length + (this.#overflow ? 1 : 0);
  }

  inc(a: string, b = '', c = '', by = 1): void {
    const values = this.#names.length;
    let level = this.#root;
    let next = level.get(a);
    if (values > 1) {
      if (next === undefined) {
        next = new Map();
        level.set(a, next);
      }
      level = next as Level;
      next = level.get(b);
      if (values > 2) {
        if (next === undefined) {
          next = new Map();
          level.set(b, next);
        }
        level = next as Level;
        next = level.get(c);
      }
    }
    let cell = next as Cell | undefined;
    if (cell === undefined) {
      cell = this.#newCell(values === 1 ? a : values === 2 ? b : c, level, [a, b, c]);
    }
    cell.value += by;
  }

  #newCell(last: string, level: Level, given: readonly string[]): Cell {
    if (this.#cells.length >= MAX_COUNTER_CELLS) {
      this.#overflow ??= { labels: Object.fromEntries(this.#names.map((name) => [name, OTHER])), value: 0 };
      return this.#overflow;
    }
    const cell: Cell = { labels: Object.fromEntries(this.#names.map((name, index) => [name, given[index] ?? ''])), value: 0 };
    level.set(last, cell);
    this.#cells.push(cell);
    return cell;
  }
}
