/**
 * Each connector and connector group as the admin API reports them: online or
 * not (its events stream open here, or a healthy tunnel to this instance), the
 * tunnels it holds to this instance and the streams in flight on them.
 */
import type { TunnelPool } from '../tunnel/tunnel-pool.ts';
import type { ConnectorEvents } from './connector-events.ts';
import type { ConnectorRecord } from './connector-registry.ts';

export interface ConnectorState {
  readonly id: string;
  readonly group: string;
  readonly online: boolean;
  readonly tunnels: number;
  readonly streamsInFlight: number;
}

export interface GroupState {
  readonly name: string;
  readonly connectorsOnline: number;
  readonly connectorsOffline: number;
  /** Tunnels from the group's connectors to this instance. */
  readonly tunnels: number;
  readonly streamsInFlight: number;
}

export function connectorStates(
  records: readonly ConnectorRecord[],
  events: Pick<ConnectorEvents, 'isConnected'>,
  pool: Pick<TunnelPool, 'sessions'> | undefined,
): ConnectorState[] {
  const sessions = (pool?.sessions() ?? []).filter((session) => !session.closed);
  return records
    .filter((record) => !record.revoked)
    .map((record) => {
      const own = sessions.filter((session) => session.connectorId === record.id);
      return {
        id: record.id,
        group: record.group,
        online: events.isConnected(record.id) || own.some((session) => session.healthy),
        tunnels: own.length,
        streamsInFlight: own.reduce((sum, session) => sum + session.inFlight, 0),
      };
    });
}

/** A group's state from its connectors' (a group nobody joined yet has none online). */
export function groupState(name: string, connectors: readonly ConnectorState[]): GroupState {
  const own = connectors.filter((connector) => connector.group === name);
  const online = own.filter((connector) => connector.online).length;
  return {
    name,
    connectorsOnline: online,
    connectorsOffline: own.length - online,
    tunnels: own.reduce((sum, connector) => sum + connector.tunnels, 0),
    streamsInFlight: own.reduce((sum, connector) => sum + connector.streamsInFlight, 0),
  };
}
