/**
 * Requests per second and the share of 5xx answers per app over the last 15 minutes,
 * for the overview's sparklines. The gateway counts requests (gatehouse_requests_total)
 * but keeps no history; this ring samples that counter every 10 seconds while the admin
 * listener is open, and forgets anything older than the window. The same counter is
 * what Prometheus scrapes, so a graph there shows the same numbers.
 */
import type { Registry } from 'prom-client';

export const TRAFFIC_SAMPLE_MS = 10_000;
export const TRAFFIC_SAMPLES = 90;

/** One interval: requests per second and the fraction of them answered 5xx. */
export interface TrafficPoint {
  readonly at: number;
  readonly perSecond: number;
  readonly errorRate: number;
}

interface Totals {
  readonly at: number;
  readonly byApp: ReadonlyMap<string, { readonly all: number; readonly errors: number }>;
}

export class TrafficRing {
  readonly #registry: Registry;
  readonly #clock: () => number;
  readonly #samples: Totals[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(registry: Registry, clock: () => number) {
    this.#registry = registry;
    this.#clock = clock;
  }

  start(): void {
    if (this.#timer) return;
    void this.sample();
    this.#timer = setInterval(() => void this.sample(), TRAFFIC_SAMPLE_MS).unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Reads the counter once; public so a test can take samples without waiting. */
  async sample(): Promise<void> {
    const metric = this.#registry.getSingleMetric('gatehouse_requests_total');
    const byApp = new Map<string, { all: number; errors: number }>();
    if (metric) {
      for (const { value, labels } of (await metric.get()).values) {
        const app = String(labels['app'] ?? 'none');
        const entry = byApp.get(app) ?? { all: 0, errors: 0 };
        entry.all += value;
        if (labels['status_class'] === '5xx') entry.errors += value;
        byApp.set(app, entry);
      }
    }
    this.#samples.push({ at: this.#clock(), byApp });
    if (this.#samples.length > TRAFFIC_SAMPLES + 1) this.#samples.shift();
  }

  /** The points of the window for the apps named (a connector group's), oldest first. */
  series(apps: ReadonlySet<string>): TrafficPoint[] {
    const points: TrafficPoint[] = [];
    for (let index = 1; index < this.#samples.length; index += 1) {
      const before = this.#samples[index - 1]!;
      const after = this.#samples[index]!;
      const seconds = Math.max((after.at - before.at) / 1000, 0.001);
      let all = 0;
      let errors = 0;
      for (const app of apps) {
        const a = after.byApp.get(app);
        const b = before.byApp.get(app);
        all += Math.max(0, (a?.all ?? 0) - (b?.all ?? 0));
        errors += Math.max(0, (a?.errors ?? 0) - (b?.errors ?? 0));
      }
      points.push({ at: after.at, perSecond: all / seconds, errorRate: all === 0 ? 0 : errors / all });
    }
    return points;
  }
}
