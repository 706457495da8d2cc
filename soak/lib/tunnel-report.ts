/**
 * What the gateway knows about each tunnel, for the soak's failure notes: a
 * request or WebSocket that hangs after a connector was killed points at a
 * tunnel the gateway still counts as alive (its connection's close not
 * noticed), or at one that closed but left a stream behind. The states are
 * read in the gateway's process (soak/gateway.ts answers them over IPC); the
 * disconnects, with the reason the gateway gave, come from its audit log.
 */
import type { Gateway } from '../../src/gateway/create-gateway.ts';

export interface TunnelState {
  readonly connectorId: string;
  readonly tunnel: string;
  readonly healthy: boolean;
  /** Why it stopped taking streams, once it did. */
  readonly reason: string | undefined;
  readonly closed: boolean;
  readonly streamsInFlight: number;
  readonly streamsOpened: number;
}

/** A tunnel's connector.connected or connector.disconnected event, as the audit log kept it. */
export interface TunnelEvent {
  readonly type: string;
  readonly connectorId: string;
  readonly tunnel: string;
  readonly reason: string | undefined;
  /** Wall clock, ms since the epoch. */
  readonly atMs: number;
}

/** In the gateway's process: every tunnel in the pool, closing ones included. */
export function tunnelStates(gateway: Gateway): TunnelState[] {
  return (gateway.connectors?.tunnels.sessions() ?? []).map((session) => ({
    connectorId: session.connectorId,
    tunnel: session.id,
    healthy: session.healthy,
    reason: session.unhealthyReason,
    closed: session.closed,
    streamsInFlight: session.inFlight,
    streamsOpened: session.streamsOpened,
  }));
}

export interface Kill {
  readonly connector: string;
  /** Wall clock, ms since the epoch. */
  readonly atMs: number;
}

const short = (tunnel: string): string => tunnel.slice(0, 8);

/** "connector-b/1a2b3c4d healthy, 4 streams in flight (12 opened), its connector killed 10.0 s before", one per tunnel. */
export function describeTunnels(states: readonly TunnelState[], names: ReadonlyMap<string, string>, kills: readonly Kill[], nowMs: number): string {
  return states
    .map((state) => {
      const name = names.get(state.connectorId) ?? state.connectorId;
      const killed = kills.filter((kill) => kill.connector === name).at(-1);
      const condition = state.closed ? `closed (${state.reason})` : state.healthy ? 'healthy' : `unhealthy (${state.reason})`;
      const since = killed ? `, ${name} last killed ${((nowMs - killed.atMs) / 1000).toFixed(1)} s before` : '';
      return `${name}/${short(state.tunnel)} ${condition}, ${state.streamsInFlight} streams in flight (${state.streamsOpened} opened)${since}`;
    })
    .join('; ');
}

/**
 * The tunnels of each kill that the gateway let go of late (more than `lateMs` after the kill) or not at all:
 * "connector-b/1a2b3c4d disconnected 19.8 s after the kill at 160.0 s (heartbeat_timeout)".
 */
export function lateDisconnects(
  events: readonly TunnelEvent[],
  names: ReadonlyMap<string, string>,
  kills: readonly Kill[],
  loadStartMs: number,
  lateMs: number,
): string[] {
  const late: string[] = [];
  for (const kill of kills) {
    const at = `the kill at ${((kill.atMs - loadStartMs) / 1000).toFixed(1)} s`;
    const before = events.filter((event) => event.type === 'connector.connected' && names.get(event.connectorId) === kill.connector && event.atMs <= kill.atMs);
    for (const connected of before) {
      const gone = events.find((event) => event.type === 'connector.disconnected' && event.tunnel === connected.tunnel);
      // Tunnels that ended before the kill were not its tunnels.
      if (gone && gone.atMs < kill.atMs) continue;
      const tunnel = `${kill.connector}/${short(connected.tunnel)}`;
      if (!gone) late.push(`${tunnel} never disconnected after ${at}`);
      else if (gone.atMs - kill.atMs > lateMs)
        late.push(`${tunnel} disconnected ${((gone.atMs - kill.atMs) / 1000).toFixed(1)} s after ${at} (${gone.reason ?? 'no reason given'})`);
    }
  }
  return late;
}
