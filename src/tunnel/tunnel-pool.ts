/**
 * The live tunnels, by connector group. A request goes to the healthy tunnel
 * of its app's group with the fewest open streams: that balances across the
 * group's connectors and across each connector's several tunnels, and a dead
 * or draining tunnel is never picked. Each app holds at most its share of
 * its group's streams (app-share.ts); past it, its requests wait in their
 * own line of the group's queue.
 */
import { TUNNEL_DRAIN_TIMEOUT_MS, TUNNEL_MAX_STREAMS, TUNNEL_QUEUE_MAX_LENGTH, TUNNEL_QUEUE_MAX_WAIT_SECONDS } from '../limits.ts';
import { TunnelError } from '../errors/tunnel-error.ts';
import type { TunnelRefusalNotice } from './refuse-tunnel.ts';
import type { StreamShare } from '../config/stream-limits-schema.ts';
import { AppShares, type AppShareRule, type AppShareStats } from './app-share.ts';
import { StreamQueue, type QueueStats, type StreamQueueSettings } from './stream-queue.ts';
import type { StreamSocket } from './stream-socket.ts';
import type { OpenStreamOptions, TunnelSession } from './tunnel-session.ts';

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
  readonly #shares = new AppShares();
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

  /** The apps and their shares (each configuration, reloads included); `defaultShare` for apps of shared groups without their own. */
  configureShares(apps: readonly AppShareRule[], defaultShare?: StreamShare): void {
    this.#shares.configure(apps, defaultShare);
  }

  /** Streams the healthy tunnels of `group` can carry at once. */
  capacity(group: string): number {
    let streams = 0;
    for (const session of this.#groups.get(group) ?? []) if (session.healthy) streams += session.streamLimit;
    return streams;
  }

  /** Whether a request of `app` may open a stream now: the group has room, the app is below its share and none of its requests wait. */
  admits(group: string, app: string): boolean {
    return !this.full(group) && this.#belowShare(group, app) && this.waiting(group, app) === 0;
  }

  /** Opens a stream of `app` on `session`, counted in the app's share from now until it closes. */
  openStream(session: TunnelSession, app: string, options: OpenStreamOptions): Promise<StreamSocket> {
    const group = session.group;
    const hold = this.#shares.hold(group, app);
    const release = (): void => {
      if (hold()) this.#serveWaiting(group);
    };
    return session.openStream(app, options).then(
      (socket) => {
        socket.once('close', release);
        if (socket.destroyed) release();
        return socket;
      },
      (error: unknown) => {
        release();
        throw error;
      },
    );
  }

  /**
   * Waits in `app`'s line until a tunnel of `group` has a free stream and
   * the app is below its share, then runs `open` with it at once. Rejects
   * with a TunnelError when the queue (or the app's part of it) is full, the
   * wait expires or the group's last tunnel goes, and with the signal's
   * reason as soon as the client left.
   */
  waitForStream<T>(group: string, app: string, open: (session: TunnelSession) => Promise<T>, signal?: AbortSignal): Promise<T> {
    let queue = this.#queues.get(group);
    if (!queue) {
      queue = new StreamQueue<TunnelSession>(this.#queueSettings, (kind, waiting) => this.#refusal(group, waiting, kind));
      this.#queues.set(group, queue);
    }
    // An app of a shared group may fill its share of the queue, no more: the rest of the queue stays for the others.
    const capacity = this.capacity(group);
    const limit = this.#shares.limit(group, app, capacity);
    const appMaxLength = Number.isFinite(limit) ? Math.ceil((this.#queueSettings.maxLength * Math.min(limit, capacity)) / capacity) : Infinity;
    const waiting = queue.wait(app, open, signal, appMaxLength);
    // A stream may have freed meanwhile; else streams kept alive idle hold slots nobody uses now: one of them makes room.
    this.#serveWaiting(group);
    if (queue.length > 0 && this.full(group)) for (const session of this.sessions(group)) if (session.closeIdleStream()) break;
    return waiting;
  }

  /** Whether `group` has healthy tunnels, every one at its stream limit. */
  full(group: string): boolean {
    const sessions = this.sessions(group);
    return sessions.some((session) => session.healthy) && !sessions.some((session) => session.acceptsStreams);
  }

  /** Requests waiting for a stream of `group`, or only those of `app`. */
  waiting(group: string, app?: string): number {
    const queue = this.#queues.get(group);
    return (app === undefined ? queue?.length : queue?.waitingFor(app)) ?? 0;
  }

  /**
   * The part of `group`'s load that more tunnels must not answer (capacity on demand leaves it out): the streams
   * held, and the requests waiting, of the apps at a share that binds (one smaller than the group's capacity). Such
   * an app's requests wait for its share, not for the group; more capacity would only widen a share given as a
   * percentage, so a flooded app would make the group grow for itself.
   */
  beyondShares(group: string): { readonly held: number; readonly waiting: number } {
    const capacity = this.capacity(group);
    let held = 0;
    let waiting = 0;
    for (const [app, streams] of this.#shares.holders(group)) {
      const limit = this.#shares.limit(group, app, capacity);
      if (streams < limit || limit >= capacity) continue;
      held += streams;
      waiting += this.waiting(group, app);
    }
    return { held, waiting };
  }

  /** Each app's streams held, its share and its refusals, by group (metrics). */
  appShareStats(): Map<string, Map<string, AppShareStats>> {
    return this.#shares.stats((group) => this.capacity(group));
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
    const eligible = (app: string): boolean => this.#belowShare(group, app);
    for (let session = this.pick(group); session && queue.serve(session, eligible); session = this.pick(group));
    if (queue.length > 0 && !this.has(group)) {
      queue.failAll(
        () => new TunnelError('ERR_TUNNEL_NO_CONNECTOR', `No connector of group "${group}" is connected.`, { beforeUpstream: true, reason: 'no_tunnel' }),
      );
    }
  }

  #belowShare(group: string, app: string): boolean {
    return this.#shares.held(group, app) < this.#shares.limit(group, app, this.capacity(group));
  }

  /** Why the queue turned a request away or gave up on it: its app at its share, else the group full. */
  #refusal(group: string, app: string, kind: 'full' | 'timeout'): TunnelError {
    // A share as large as the group's capacity restricts nothing: the group is full.
    const capacity = this.capacity(group);
    if (this.#shares.held(group, app) >= this.#shares.limit(group, app, capacity) && this.#shares.limit(group, app, capacity) < capacity) {
      this.#shares.countRefusal(group, app);
      return new TunnelError('ERR_TUNNEL_APP_SHARE', `App "${app}" holds its share of the streams of group "${group}".`, {
        beforeUpstream: true,
        reason: kind === 'full' ? 'app_share_full' : 'app_share_timeout',
      });
    }
    const message =
      kind === 'full' ? 'Every tunnel of the group is at its stream limit and its queue is full.' : 'No tunnel stream of the group became free in time.';
    return new TunnelError('ERR_TUNNEL_STREAM_LIMIT', `${message} (group "${group}")`, {
      beforeUpstream: true,
      reason: kind === 'full' ? 'queue_full' : 'queue_timeout',
    });
  }
}
