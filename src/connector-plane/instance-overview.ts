/**
 * A connector group's tunnels on each gateway instance, from the records the
 * instances keep in the shared store: what the admin API's overview and the
 * console's Overview page both show, so one instance's operator sees them all.
 */
import type { ConnectorLoad } from './instance-record.ts';

export interface InstanceLoadSource {
  readonly id: string;
  readonly url?: string;
  readonly connectors?: readonly ConnectorLoad[] | undefined;
  readonly truncated?: boolean;
  readonly stale?: boolean;
}

export interface GroupInstance {
  readonly id: string;
  readonly url: string | undefined;
  /** Null: unknown (an instance whose record does not list its tunnels, or one that stopped renewing it). */
  readonly tunnels: number | null;
  readonly streamsInFlight: number | null;
  /** `live`; `stale`: not renewed lately, figures as of then; `unknown`: its record does not say. */
  readonly state: 'live' | 'stale' | 'unknown';
  /** Its record lists only its busiest connectors: the figures may be low. */
  readonly partial: boolean;
}

/** Per group, each instance's tunnels and streams from that group's connectors, instances sorted by id. */
export function groupInstances(
  group: string,
  connectors: ReadonlyArray<{ readonly id: string; readonly group: string }>,
  instances: readonly InstanceLoadSource[],
): GroupInstance[] {
  const members = new Set(connectors.filter((connector) => connector.group === group).map((connector) => connector.id));
  return [...instances]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((instance) => {
      const url = instance.url;
      if (instance.connectors === undefined) return { id: instance.id, url, tunnels: null, streamsInFlight: null, state: 'unknown', partial: false };
      const own = instance.connectors.filter((load) => members.has(load.id));
      return {
        id: instance.id,
        url,
        tunnels: own.reduce((sum, load) => sum + load.tunnels, 0),
        streamsInFlight: own.reduce((sum, load) => sum + load.streams, 0),
        state: instance.stale === true ? 'stale' : 'live',
        partial: instance.truncated === true,
      };
    });
}
