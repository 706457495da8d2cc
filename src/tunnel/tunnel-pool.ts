/**
 * The live tunnels, by connector group. A request goes to the healthy tunnel
 * of its app's group with the fewest open streams: that balances across the
 * group's connectors and across each connector's several tunnels, and a dead
 * or draining tunnel is never picked.
 */
import { TUNNEL_DRAIN_TIMEOUT_MS } from '../limits.ts';
import type { TunnelRefusalNotice } from './refuse-tunnel.ts';
import type { TunnelSession } from './tunnel-session.ts';

export class TunnelPool {
  readonly #groups = new Map<string, Set<TunnelSession>>();
  /** Removers of the listeners this pool put on its sessions. */
  readonly #removers = new Map<TunnelSession, () => void>();
  /** Bytes of the tunnels that left the pool, by group, so that a group's totals never go down. */
  readonly #closedBytes = new Map<string, { sent: number; received: number }>();
  /** Rotates the starting point among equally loaded tunnels. */
  #turn = 0;

  /** Adds a tunnel; it leaves the pool by itself when it closes. */
  add(session: TunnelSession): void {
    if (this.#removers.has(session) || session.closed) return;
    let group = this.#groups.get(session.group);
    if (!group) {
      group = new Set();
      this.#groups.set(session.group, group);
    }
    group.add(session);
    const onClose = (): void => this.#remove(session);
    session.once('close', onClose);
    this.#removers.set(session, () => session.off('close', onClose));
  }

  /**
   * The healthy tunnel of `group` with the fewest open streams that still
   * takes streams, skipping the connectors in `exclude`; undefined if none.
   */
  pick(group: string, exclude?: ReadonlySet<string>): TunnelSession | undefined {
    const sessions = this.#groups.get(group);
    if (!sessions || sessions.size === 0) return undefined;
    const candidates = [...sessions];
    const start = this.#turn++ % candidates.length;
    if (this.#turn >= Number.MAX_SAFE_INTEGER) this.#turn = 0;
    let best: TunnelSession | undefined;
    for (let i = 0; i < candidates.length; i++) {
      const session = candidates[(start + i) % candidates.length] as TunnelSession;
      if (!session.acceptsStreams || exclude?.has(session.connectorId)) continue;
      if (!best || session.inFlight < best.inFlight) best = session;
    }
    return best;
  }

  /** Whether `group` has a healthy tunnel. */
  has(group: string): boolean {
    for (const session of this.#groups.get(group) ?? []) if (session.healthy) return true;
    return false;
  }

  /** Every tunnel, or those of one group. */
  sessions(group?: string): TunnelSession[] {
    if (group !== undefined) return [...(this.#groups.get(group) ?? [])];
    return [...this.#groups.values()].flatMap((sessions) => [...sessions]);
  }

  /** Bytes through every tunnel of each group, closed ones included, over the pool's life (metrics). */
  bytesByGroup(): Map<string, { sent: number; received: number }> {
    const totals = new Map<string, { sent: number; received: number }>();
    for (const [group, bytes] of this.#closedBytes) totals.set(group, { ...bytes });
    for (const session of this.sessions()) {
      const bytes = session.bytes();
      const total = totals.get(session.group) ?? { sent: 0, received: 0 };
      total.sent += bytes.sent;
      total.received += bytes.received;
      totals.set(session.group, total);
    }
    return totals;
  }

  get size(): number {
    return this.#removers.size;
  }

  /**
   * Cuts every tunnel of a connector at once (revocation): nothing more may
   * pass through it. With a notice, the connector is told why.
   */
  closeConnector(connectorId: string, notice?: TunnelRefusalNotice): Promise<void> {
    const closing = this.sessions().filter((session) => session.connectorId === connectorId);
    for (const session of closing) session.destroy(notice);
    return Promise.all(closing.map((session) => session.whenClosed())).then(() => undefined);
  }

  /** Graceful shutdown: every tunnel drains (GOAWAY, in-flight streams finish until the deadline). */
  drain(deadlineMs: number = TUNNEL_DRAIN_TIMEOUT_MS): Promise<void> {
    return Promise.all(this.sessions().map((session) => session.close(deadlineMs))).then(() => undefined);
  }

  #remove(session: TunnelSession): void {
    this.#removers.get(session)?.();
    this.#removers.delete(session);
    const bytes = session.bytes();
    const closed = this.#closedBytes.get(session.group) ?? { sent: 0, received: 0 };
    closed.sent += bytes.sent;
    closed.received += bytes.received;
    this.#closedBytes.set(session.group, closed);
    const group = this.#groups.get(session.group);
    group?.delete(session);
    if (group?.size === 0) this.#groups.delete(session.group);
  }
}
