/**
 * Leak figures of the gateway, read inside the gateway's process (soak/gateway.ts
 * answers them over IPC): the tunnel pool's sessions and streams in flight,
 * the HTTPS server's open connections and listener counts, and
 * process.getActiveResourcesInfo() by type.
 */
import type { Server } from 'node:https';
import type { Gateway } from '../../src/gateway/create-gateway.ts';

export interface Figures {
  readonly tunnelSessions: number;
  readonly healthyTunnels: number;
  readonly streamsInFlight: number;
  /** Listeners on the tunnel sessions and their transports, summed. */
  readonly tunnelListeners: number;
  readonly serverConnections: number;
  /** Listeners on the gateway's HTTPS server, by event. */
  readonly serverListeners: Readonly<Record<string, number>>;
  /** process.getActiveResourcesInfo(), by type. */
  readonly resources: Readonly<Record<string, number>>;
}

export function figures(gateway: Gateway, server: Server): Promise<Figures> {
  const sessions = gateway.connectors?.tunnels.sessions() ?? [];
  const serverListeners: Record<string, number> = {};
  for (const name of server.eventNames()) serverListeners[String(name)] = server.listenerCount(name);
  const resources: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) resources[type] = (resources[type] ?? 0) + 1;
  return new Promise((resolve, reject) =>
    server.getConnections((error, count) => {
      if (error) {
        reject(error);
        return;
      }
      resolve({
        tunnelSessions: sessions.length,
        healthyTunnels: sessions.filter((session) => session.healthy).length,
        streamsInFlight: sessions.reduce((sum, session) => sum + session.inFlight, 0),
        tunnelListeners: sessions.reduce((sum, session) => {
          const totals = session.listenerTotals();
          return sum + totals.session + totals.transport;
        }, 0),
        serverConnections: count,
        serverListeners,
        resources,
      });
    }),
  );
}

/** What grew between `before` and `after`: "name before → after" for every count that is higher now. */
export function growth(before: Figures, after: Figures): string[] {
  const grown: string[] = [];
  const compare = (name: string, a: number, b: number): void => {
    if (b > a) grown.push(`${name} ${a} → ${b}`);
  };
  compare('tunnel sessions', before.tunnelSessions, after.tunnelSessions);
  compare('tunnel streams in flight', before.streamsInFlight, after.streamsInFlight);
  compare('tunnel listeners', before.tunnelListeners, after.tunnelListeners);
  compare('server connections', before.serverConnections, after.serverConnections);
  for (const name of new Set([...Object.keys(before.serverListeners), ...Object.keys(after.serverListeners)]))
    compare(`server '${name}' listeners`, before.serverListeners[name] ?? 0, after.serverListeners[name] ?? 0);
  for (const name of new Set([...Object.keys(before.resources), ...Object.keys(after.resources)]))
    compare(`active ${name}`, before.resources[name] ?? 0, after.resources[name] ?? 0);
  return grown;
}
