/**
 * Capacity on demand: each connector keeps a few tunnels to this instance
 * (`--tunnels`), enough for a quiet day. When a group's streams run short
 * (most of its capacity in flight, or requests waiting in its queue) the
 * connectors of that group are told, on their events stream, to open one
 * more tunnel each, up to `connectors.tunnels.maxPerConnector`; when the
 * group has been quiet for `connectors.tunnels.scaleDownAfter`, they are told
 * to go back to what they started with. Only this instance's own tunnels are
 * counted and asked for: with several instances each asks for its own.
 *
 * Only load that more tunnels would serve counts: an app held at its share
 * of the group's streams (TunnelPool.beyondShares) counts neither its
 * streams nor its waiting requests, so an anonymous crowd on one app cannot
 * make the connectors open tunnels it would then get its share of.
 */
import type { Broadcast } from '../store/broadcast.ts';
import type { TunnelPool } from '../tunnel/tunnel-pool.ts';
import type { ConnectorEvents } from './connector-events.ts';
import type { ConnectorsConfig } from '../config/parse.ts';
import { TUNNEL_DEMAND_CHECK_INTERVAL_MS, TUNNEL_DEMAND_HIGH_WATER, TUNNEL_DEMAND_LOW_WATER, TUNNEL_DEMAND_RAISE_INTERVAL_MS } from '../limits.ts';
import { TUNNELS_EVENT, tunnelsEventSchema, type TunnelsEvent } from '../protocol/tunnels-event.ts';

/** The channel an ask crosses instances on when the connector's events stream is held by another. */
const TUNNEL_DEMAND_CHANNEL = 'gatehouse:tunnel-demand';

export interface TunnelDemandOptions {
  readonly tunnels: Pick<TunnelPool, 'sessions' | 'waiting' | 'beyondShares'>;
  readonly events: Pick<ConnectorEvents, 'isConnected' | 'send'>;
  readonly settings: Pick<ConnectorsConfig['tunnels'], 'maxStreams' | 'maxPerConnector' | 'scaleDownAfter'>;
  /** This instance's id, when it is one of several: the connector then knows which tunnels the ask is about. */
  readonly instanceId?: () => string | undefined;
  readonly broadcast?: Broadcast;
  /** Default TUNNEL_DEMAND_CHECK_INTERVAL_MS. */
  readonly checkIntervalMs?: number;
  readonly now?: () => number;
}

interface Asked {
  readonly want: number;
  /** The tunnels the connector had when it first was asked for more: what it goes back to. */
  readonly base: number;
  readonly raisedAt: number;
}

export class TunnelDemand {
  readonly #options: TunnelDemandOptions;
  readonly #asked = new Map<string, Asked>();
  readonly #quietSince = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(options: TunnelDemandOptions) {
    this.#options = options;
  }

  start(): void {
    const { broadcast, events } = this.#options;
    this.#unsubscribe ??= broadcast?.subscribe(TUNNEL_DEMAND_CHANNEL, (message) => {
      const parsed = parseRelayed(message);
      if (parsed && events.isConnected(parsed.connectorId)) events.send(parsed.connectorId, TUNNELS_EVENT, parsed.data);
    });
    this.#timer ??= setInterval(() => this.check(), this.#options.checkIntervalMs ?? TUNNEL_DEMAND_CHECK_INTERVAL_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /** Looks at every group once; exported for tests that drive it without the timer. */
  check(): void {
    const { tunnels } = this.#options;
    const { maxStreams } = this.#options.settings;
    const now = (this.#options.now ?? Date.now)();
    const byGroup = new Map<string, Map<string, { tunnels: number; inFlight: number }>>();
    for (const session of tunnels.sessions()) {
      if (!session.healthy) continue;
      const connectors = byGroup.get(session.group) ?? new Map<string, { tunnels: number; inFlight: number }>();
      byGroup.set(session.group, connectors);
      const counts = connectors.get(session.connectorId) ?? { tunnels: 0, inFlight: 0 };
      connectors.set(session.connectorId, { tunnels: counts.tunnels + 1, inFlight: counts.inFlight + session.inFlight });
    }
    for (const [group, connectors] of byGroup) {
      let capacity = 0;
      let inFlight = 0;
      for (const counts of connectors.values()) {
        capacity += counts.tunnels * maxStreams;
        inFlight += counts.inFlight;
      }
      // An app at its share is left out, its streams from the capacity and from the use alike: a tunnel more would
      // only widen its share, so a flooded app neither makes the group grow nor keeps it grown.
      const beyond = tunnels.beyondShares(group);
      const room = Math.max(0, capacity - beyond.held);
      const used = Math.max(0, inFlight - beyond.held) + Math.max(0, tunnels.waiting(group) - beyond.waiting);
      if (used > 0 && used >= room * TUNNEL_DEMAND_HIGH_WATER) {
        this.#quietSince.delete(group);
        for (const [connectorId, counts] of connectors) this.#raise(connectorId, counts.tunnels, now);
      } else if (used <= room * TUNNEL_DEMAND_LOW_WATER) {
        const since = this.#quietSince.get(group) ?? now;
        this.#quietSince.set(group, since);
        if (now - since >= this.#options.settings.scaleDownAfter * 1000) for (const connectorId of connectors.keys()) this.#lower(connectorId);
      } else {
        this.#quietSince.delete(group);
      }
    }
    // A connector gone from every group starts again from what it brings.
    const present = new Set([...byGroup.values()].flatMap((connectors) => [...connectors.keys()]));
    for (const connectorId of this.#asked.keys()) if (!present.has(connectorId)) this.#asked.delete(connectorId);
  }

  #raise(connectorId: string, open: number, now: number): void {
    const asked = this.#asked.get(connectorId);
    // A tunnel asked for takes a handshake to arrive: one more at a time, and not before the last one had its chance.
    if (asked && now - asked.raisedAt < TUNNEL_DEMAND_RAISE_INTERVAL_MS) return;
    const current = Math.max(open, asked?.want ?? 0);
    if (current >= this.#options.settings.maxPerConnector) return;
    const want = current + 1;
    this.#asked.set(connectorId, { want, base: asked?.base ?? open, raisedAt: now });
    this.#tell(connectorId, want);
  }

  #lower(connectorId: string): void {
    const asked = this.#asked.get(connectorId);
    if (!asked) return;
    this.#asked.delete(connectorId);
    this.#tell(connectorId, asked.base);
  }

  #tell(connectorId: string, want: number): void {
    const { events, broadcast } = this.#options;
    const instance = this.#options.instanceId?.();
    const data: TunnelsEvent = instance !== undefined ? { want, instance } : { want };
    if (events.isConnected(connectorId) || !broadcast) {
      events.send(connectorId, TUNNELS_EVENT, data);
      return;
    }
    // The connector's events stream is held by another instance: it passes the ask on.
    broadcast.publish(TUNNEL_DEMAND_CHANNEL, JSON.stringify({ connectorId, data })).catch(() => undefined);
  }
}

function parseRelayed(message: string): { connectorId: string; data: TunnelsEvent } | undefined {
  try {
    const parsed = JSON.parse(message) as { connectorId?: unknown; data?: unknown };
    const data = tunnelsEventSchema.safeParse(parsed.data);
    return typeof parsed.connectorId === 'string' && data.success ? { connectorId: parsed.connectorId, data: data.data } : undefined;
  } catch {
    return undefined;
  }
}
