import { collectDefaultMetrics, Registry } from 'prom-client';

/** The prefix of every metric name: the gateway's, or the connector's. */
export type MetricsPrefix = 'gatehouse_' | 'gatehouse_connector_';

/**
 * One registry per gateway or connector, never prom-client's global one: an
 * Express app that mounts Gatehouse may have its own metrics, and two
 * gateways in one process (tests, blue/green in one server) must not count
 * into each other.
 */
export function createMetricsRegistry(): Registry {
  return new Registry();
}

const processRegistries = new Map<MetricsPrefix, Registry>();

/**
 * Node's process metrics (CPU, memory, event loop lag, GC), once per process
 * and prefix: their collectors watch the process for as long as it lives, so
 * one per gateway would pile up in a process that creates many.
 */
function processMetrics(prefix: MetricsPrefix): Registry {
  let registry = processRegistries.get(prefix);
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix });
    processRegistries.set(prefix, registry);
  }
  return registry;
}

/** What a scrape of `/metrics` answers: the registry's metrics and the process's, in Prometheus' text format. */
export async function scrapeMetrics(registry: Registry, prefix: MetricsPrefix): Promise<{ contentType: string; body: string }> {
  const merged = Registry.merge([processMetrics(prefix), registry]);
  return { contentType: merged.contentType, body: await merged.metrics() };
}
