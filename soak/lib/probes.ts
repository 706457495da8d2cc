/**
 * Leak figures of the gateway, read inside the gateway's process (soak/gateway.ts
 * answers them over IPC): the tunnel pool's sessions and streams in flight,
 * the HTTPS server's open connections and listener counts, and
 * process.getActiveResourcesInfo() by type.
 */
import type { Server } from 'node:https';
import type { Gateway } from '../../src/gateway/create-gateway.ts';
import type { OpenStreamReport } from '../../src/tunnel/stream-report.ts';

export interface Figures {
  readonly tunnelSessions: number;
  readonly healthyTunnels: number;
  readonly streamsInFlight: number;
  /** Each of those streams described, with its connector: what a leak report prints. */
  readonly openStreams: ReadonlyArray<OpenStreamReport & { readonly connectorId: string }>;
  /** Listeners on the tunnel sessions and their transports, summed. */
  readonly tunnelListeners: number;
  readonly serverConnections: number;
  /** Listeners on the gateway's HTTPS server, by event. */
  readonly serverListeners: Readonly<Record<string, number>>;
  /** process.getActiveResourcesInfo(), by type. */
  readonly resources: Readonly<Record<string, number>>;
}

/** The gateway's figures; without `server` (a test's gateway whose server is not at hand), no server connections or listeners. */
export function figures(gateway: Gateway, server?: Server): Promise<Figures> {
  const sessions = gateway.connectors?.tunnels.sessions() ?? [];
  const serverListeners: Record<string, number> = {};
  for (const name of server?.eventNames() ?? []) serverListeners[String(name)] = server!.listenerCount(name);
  const resources: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) resources[type] = (resources[type] ?? 0) + 1;
  return new Promise((resolve, reject) => {
    const answer = (error: Error | null, count: number): void => {
      if (error) {
        reject(error);
        return;
      }
      resolve({
        tunnelSessions: sessions.length,
        healthyTunnels: sessions.filter((session) => session.healthy).length,
        streamsInFlight: sessions.reduce((sum, session) => sum + session.inFlight, 0),
        openStreams: sessions.flatMap((session) => session.describeOpenStreams().map((report) => ({ connectorId: session.connectorId, ...report }))),
        tunnelListeners: sessions.reduce((sum, session) => {
          const totals = session.listenerTotals();
          return sum + totals.session + totals.transport;
        }, 0),
        serverConnections: count,
        serverListeners,
        resources,
      });
    };
    if (server) server.getConnections(answer);
    else answer(null, 0);
  });
}

/**
 * Reads the figures until nothing grew since `before` and no tunnel stream is
 * open, or until `withinMs` passed; returns the last. An idle keep-alive
 * stream closes on the agent's timeout (TUNNEL_AGENT_FREE_STREAM_TIMEOUT_MS),
 * so one left by the last request must be waited for even when the baseline
 * held one too and nothing grew.
 */
export async function settle(before: Figures, read: () => Promise<Figures>, withinMs: number, everyMs = 500): Promise<Figures> {
  const by = Date.now() + withinMs;
  let after = await read();
  while ((growth(before, after).length > 0 || after.streamsInFlight > 0) && Date.now() < by) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    after = await read();
  }
  return after;
}

/** The open streams, one line each, for a failure note. */
export function describeOpenStreams(figures: Figures, when: string): string[] {
  return figures.openStreams.map((stream) => `open stream ${when}: ${JSON.stringify(stream)}`);
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
