/**
 * The live tunnels, by connector group. A request goes to the healthy tunnel
 * of its app's group with the fewest open streams: that balances across the
 * group's connectors and across each connector's several tunnels, and a dead
 * or draining tunnel is never picked.
 */
import { TUNNEL_DRAIN_TIMEOUT_MS, TUNNEL_MAX_STREAMS, TUNNEL_QUEUE_MAX_LENGTH, TUNNEL_QUEUE_MAX_WAIT_SECONDS } from '../limits.ts';
import { TunnelError } from '../errors/tunnel-error.ts';
import type { TunnelRefusalNotice } from './refuse-tunnel.ts';
import { StreamQueue, type QueueStats, type StreamQueueSettings } from './stream-queue.ts';
import type { TunnelSession } from './tunnel-session.ts';

export interface TunnelPoolOptions {
  /** Streams the service opens at most on one tunnel (the connector may advertise fewer). Default TUNNEL_MAX_STREAMS. */
  readonly maxStreamsPerTunnel?: number;
  /** The wait for a free stream when every tunnel of a group is full. Default TUNNEL_QUEUE_MAX_LENGTH, TUNNEL_QUEUE_MAX_WAIT_SECONDS. */
  readonly queue?: StreamQueueSettings;
}

export class TunnelPool {
  readonly maxStreamsPerTunnel: number;
  readonly #queueSettings: StreamQueueSettings;
  readonly #queues = new Map<string, StreamQueue<TunnelSession>>();
  readonly #groups = new Map<string, Set<TunnelSession>>();
  /** Removers of the listeners this pool put on its sessions. */
  readonly #removers = new Map<TunnelSession, () => void>();
  /** Bytes of the tunnels that left the pool, by group, so that a group's totals never go down. */
  readonly #closedBytes = new Map<string, { sent: number; received: number }>();
  /** Rotates the starting point among equally loaded tunnels. */
  #turn = 0;

  constructor(options: TunnelPoolOptions = {}) {
    this.maxStreamsPerTunnel = options.maxStreamsPerTunnel ?? TUNNEL_MAX_STREAMS;
    this.#queueSettings = options.queue ?? { maxLength: TUNNEL_QUEUE_MAX_LENGTH, maxWaitMs: TUNNEL_QUEUE_MAX_WAIT_SECONDS * 1000 };
  }

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
    // A stream that closes, or a tunnel that connects, may serve the oldest request waiting for a stream.
    const onFree = (): void => this.#serveWaiting(session.group);
    session.once('close', onClose);
    session.on('streamClosed', onFree);
    session.on('ready', onFree);
    this.#removers.set(session, () => {
      session.off('close', onClose);
      session.off('streamClosed', onFree);
      session.off('ready', onFree);
    });
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

  /**
   * Waits, first come first served, until a tunnel of `group` has a free
   * stream, then runs `open` with it at once. For a group that has healthy
   * tunnels, all at their stream limit. Rejects with a TunnelError when the
   * queue is full, the wait expires or the group's last tunnel goes, and
   * with the signal's reason as soon as the client left.
   */
  waitForStream<T>(group: string, open: (session: TunnelSession) => Promise<T>, signal?: AbortSignal): Promise<T> {
    let queue = this.#queues.get(group);
    if (!queue) {
      queue = new StreamQueue<TunnelSession>(group, this.#queueSettings);
      this.#queues.set(group, queue);
    }
    const waiting = queue.wait(open, signal);
    // A stream may have freed meanwhile; else streams kept alive idle hold slots nobody uses now: one of them makes room.
    this.#serveWaiting(group);
    if (queue.length > 0) for (const session of this.sessions(group)) if (session.closeIdleStream()) break;
    return waiting;
  }

  /** Whether `group` has healthy tunnels, every one at its stream limit. */
  full(group: string): boolean {
    const sessions = this.sessions(group);
    return sessions.some((session) => session.healthy) && !sessions.some((session) => session.acceptsStreams);
  }

  /** Requests waiting for a stream of `group`. */
  waiting(group: string): number {
    return this.#queues.get(group)?.length ?? 0;
  }

  /** Each group's queue: its depth, how waits ended and the seconds waited (metrics). */
  queueStats(): Map<string, QueueStats> {
    return new Map([...this.#queues].map(([group, queue]) => [group, queue.stats()]));
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
    this.#serveWaiting(session.group);
  }

  #serveWaiting(group: string): void {
    const queue = this.#queues.get(group);
    if (!queue || queue.length === 0) return;
    for (let session = this.pick(group); session && queue.serve(session); session = this.pick(group));
    if (queue.length > 0 && !this.has(group)) {
      queue.failAll(
        () => new TunnelError('ERR_TUNNEL_NO_CONNECTOR', `No connector of group "${group}" is connected.`, { beforeUpstream: true, reason: 'no_tunnel' }),
      );
    }
  }
}
