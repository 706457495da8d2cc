import type { Registry } from 'prom-client';
import { scrapeMetrics, type MetricsPrefix } from '../../../src/metrics/registry.ts';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Prometheus' text format, as a scraper reads it: every sample with its labels. */
export function parseExposition(body: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** One scrape, with the sum of the samples of a name whose labels include `labels`. */
export class Scrape {
  readonly samples: readonly Sample[];
  readonly body: string;

  constructor(body: string) {
    this.body = body;
    this.samples = parseExposition(body);
  }

  static async of(registry: Registry, prefix: MetricsPrefix): Promise<Scrape> {
    return new Scrape((await scrapeMetrics(registry, prefix)).body);
  }

  has(name: string): boolean {
    return this.samples.some((sample) => sample.name === name);
  }

  sum(name: string, labels: Record<string, string> = {}): number {
    return this.matching(name, labels).reduce((total, sample) => total + sample.value, 0);
  }

  matching(name: string, labels: Record<string, string> = {}): Sample[] {
    return this.samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
  }

  /** How much `name` moved since `before`. */
  since(before: Scrape, name: string, labels: Record<string, string> = {}): number {
    return this.sum(name, labels) - before.sum(name, labels);
  }
}
