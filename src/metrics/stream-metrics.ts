import { Counter, Gauge, type Metric, type Registry } from 'prom-client';
import { TUNNEL_QUEUE_WAIT_BUCKETS } from '../limits.ts';
import type { TunnelPool } from '../tunnel/tunnel-pool.ts';
import { histogramObject, type HistogramObject } from './histogram-cells.ts';

/**
 * The tunnel streams each app holds against its share of its connector group, the refusals past it, and how long
 * requests waited in the group's queue: all read from the pool when Prometheus scrapes.
 */
export function observeStreamShares(registry: Registry, tunnels: () => TunnelPool | undefined): void {
  const registers = [registry];
  const perApp = (read: (stats: { held: number; limit: number; refused: number }) => number) =>
    function collect(this: Gauge<'connector_group' | 'app'>): void {
      this.reset();
      for (const [group, apps] of tunnels()?.appShareStats() ?? []) {
        for (const [app, stats] of apps) {
          const value = read(stats);
          if (Number.isFinite(value)) this.set({ connector_group: group, app }, value);
        }
      }
    };
  new Gauge({
    name: 'gatehouse_tunnel_app_streams',
    help: 'Tunnel streams each app holds (being opened, in use, or idle in keep-alive), by connector group and app.',
    labelNames: ['connector_group', 'app'],
    registers,
    collect: perApp((stats) => stats.held),
  });
  new Gauge({
    name: 'gatehouse_tunnel_app_stream_limit',
    help: "Tunnel streams each app may hold now: its share of what its group's healthy tunnels carry (absent: no limit), by connector group and app.",
    labelNames: ['connector_group', 'app'],
    registers,
    collect: perApp((stats) => stats.limit),
  });
  new Counter({
    name: 'gatehouse_tunnel_app_share_refusals_total',
    help: "Requests refused, or given up on in the queue, because their app held its share of its group's streams, by connector group and app.",
    labelNames: ['connector_group', 'app'],
    registers,
    collect() {
      this.reset();
      for (const [group, apps] of tunnels()?.appShareStats() ?? []) for (const [app, stats] of apps) this.inc({ connector_group: group, app }, stats.refused);
    },
  });
  registry.registerMetric(queueWaitHistogram(tunnels) as unknown as Metric);
}

/** `gatehouse_tunnel_queue_wait_seconds`: read from each group's queue at scrape time, in prom-client's histogram format. */
function queueWaitHistogram(tunnels: () => TunnelPool | undefined): { name: string; help: string; get(): Promise<HistogramObject> } {
  const metric = {
    name: 'gatehouse_tunnel_queue_wait_seconds',
    help: 'Time requests waited in the queue for a free tunnel stream, whatever the outcome (refused at once when the queue was full: not counted), by connector group.',
  };
  return {
    ...metric,
    get() {
      const cells = [...(tunnels()?.queueStats() ?? [])].map(([group, stats]) => {
        const count = stats.waitCounts.reduce((sum, each) => sum + each, 0);
        return [group, { counts: stats.waitCounts, sum: stats.waitedSeconds, count }] as const;
      });
      return Promise.resolve(histogramObject(metric, 'connector_group', TUNNEL_QUEUE_WAIT_BUCKETS, cells));
    },
  };
}
