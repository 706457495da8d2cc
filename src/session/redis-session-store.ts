/**
 * The session store on Redis, shared by every gateway instance.
 *
 * Revocation checks are on every request and never wait for Redis: each
 * instance keeps a copy of the revoked sessions, loaded in full at start,
 * kept exact by the `session.revoked` broadcast, and loaded again in full
 * whenever the subscription dropped and came back. Used sign-in states and
 * server-side data are read and written in Redis itself (one command each).
 *
 * When Redis is unreachable the copy may miss revocations made meanwhile
 * through other instances, so it is trusted for a grace period only
 * (STORE_OUTAGE_GRACE_MS); after that every session check fails with 503
 * ERR_STORE_UNAVAILABLE until the copy has been reloaded (fail closed). A
 * revocation made while Redis is down counts on this instance at once and is
 * written to Redis when it answers again; a reload never drops an entry this
 * instance still holds (it is written back), so nothing revoked comes back,
 * even after a Redis that lost its data.
 */
import { MAX_REVOKED_SESSIONS, STORE_OUTAGE_CHECK_INTERVAL_MS, STORE_OUTAGE_GRACE_MS } from '../limits.ts';
import type { Broadcast } from '../store/broadcast.ts';
import type { RedisConnection } from '../store/redis-connection.ts';
import { revokesIssuedBefore } from './idp-session.ts';
import { parseRevokedMember, parseRevokedMessage, RAISE_FLOOR, REVOKE, sessionKeys, type SessionKeys } from './redis-session-scripts.ts';
import { RedisSessionData, unavailable } from './redis-session-data.ts';
import type { MemorySessionStoreOptions, SessionSideData, SessionStore } from './session-store.ts';

export const SESSION_REVOKED_CHANNEL = 'session.revoked';

export interface RedisSessionStoreOptions extends Pick<MemorySessionStoreOptions, 'maxRevoked' | 'onRevocationOverflow' | 'onSideDataFull'> {
  /** Default `gatehouse:`. */
  readonly prefix?: string;
  /** Default STORE_OUTAGE_GRACE_MS. */
  readonly outageGraceMs?: number;
  /** Default STORE_OUTAGE_CHECK_INTERVAL_MS. */
  readonly checkIntervalMs?: number;
  /** Epoch milliseconds; for the grace period only (the store's own times are the caller's). */
  readonly nowMs?: () => number;
  /** Told when Redis could not be written or read (for the operator's log). */
  readonly onStoreError?: (error: unknown) => void;
}

interface Revoked {
  readonly issuedAt: number;
  readonly until: number;
}

export class RedisSessionStore implements SessionStore {
  readonly #redis: RedisConnection;
  readonly #broadcast: Broadcast;
  readonly #keys: SessionKeys;
  readonly #options: RedisSessionStoreOptions;
  readonly #data: RedisSessionData;
  readonly #maxRevoked: number;
  readonly #graceMs: number;
  readonly #nowMs: () => number;
  readonly #revoked = new Map<string, Revoked>();
  /** Revocations not yet in Redis, written on the next flush. */
  readonly #pending = new Map<string, Revoked>();
  readonly #listeners = new Set<(sessionId: string) => void>();
  readonly #unsubscribe: Array<() => void> = [];
  readonly #timer: NodeJS.Timeout;
  #floor = Number.NEGATIVE_INFINITY;
  #pendingFloor: number | undefined;
  /** True while the copy is known to hold every revocation. */
  #exact = false;
  /** When the copy was last known exact (epoch ms); never loaded: -Infinity, so checks fail closed. */
  #exactAt = Number.NEGATIVE_INFINITY;
  #syncing: Promise<void> | undefined;
  /** Resyncs the broadcast asked for (its subscription was lost and is back): a read that spans one is not exact. */
  #resyncs = 0;
  #closed = false;

  /** Over the gateway's connection and broadcast, which stay the caller's to close. Call `ready()` before use. */
  constructor(redis: RedisConnection, broadcast: Broadcast, options: RedisSessionStoreOptions = {}) {
    this.#redis = redis;
    this.#broadcast = broadcast;
    this.#options = options;
    this.#keys = sessionKeys(options.prefix ?? 'gatehouse:');
    this.#data = new RedisSessionData(redis, this.#keys, options);
    this.#maxRevoked = options.maxRevoked ?? MAX_REVOKED_SESSIONS;
    this.#graceMs = options.outageGraceMs ?? STORE_OUTAGE_GRACE_MS;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#unsubscribe.push(
      broadcast.subscribe(SESSION_REVOKED_CHANNEL, (message) => this.#heard(message)),
      broadcast.onResync(() => {
        // A read already under way may have run before the gap's messages were written: it must not count as exact.
        this.#resyncs += 1;
        this.#observe();
        void this.#sync();
      }),
    );
    this.#timer = setInterval(() => this.#tick(), options.checkIntervalMs ?? STORE_OUTAGE_CHECK_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Loads the revocations in full; rejects when Redis cannot be read (the caller's connection says why). */
  async ready(): Promise<void> {
    await this.#redis.ready();
    await this.#sync(true);
  }

  /** Called for every session revoked, through this instance or another. Returns the function that stops it. */
  onRevoked(listener: (sessionId: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Whether session checks are being refused because Redis has been unreachable for longer than the grace period. */
  get refusing(): boolean {
    this.#observe();
    return !this.#exact && this.#nowMs() - this.#exactAt > this.#graceMs;
  }

  async revoke(sessionId: string, issuedAt: number, until: number, now: number): Promise<void> {
    if (until <= now) return;
    const entry = { issuedAt, until: Math.ceil(until) };
    // Counted here at once, whatever Redis says: a logout never waits for the store to come back.
    this.#remember(sessionId, entry);
    this.#pending.set(sessionId, entry);
    this.#notify(sessionId);
    await this.#flush().catch((error: unknown) => this.#options.onStoreError?.(error));
  }

  isRevoked(sessionId: string, issuedAt: number, now: number): Promise<boolean> {
    if (this.refusing) return Promise.reject(unavailable('session_store_unreachable'));
    if (issuedAt <= this.#floor) return Promise.resolve(true);
    const entry = this.#revoked.get(sessionId);
    if (!entry) return Promise.resolve(false);
    if (entry.until <= now) {
      this.#revoked.delete(sessionId);
      return Promise.resolve(false);
    }
    return Promise.resolve(!revokesIssuedBefore(sessionId) || issuedAt <= entry.issuedAt);
  }

  consumeState(stateKey: string, until: number, now: number): Promise<boolean> {
    return this.#data.consumeState(stateKey, until, now);
  }

  putSideData(sessionId: string, data: SessionSideData, until: number, now: number): Promise<boolean> {
    return this.#data.putSideData(sessionId, data, until, now);
  }

  getSideData(sessionId: string, now: number, fresh?: boolean): Promise<SessionSideData | undefined> {
    return this.#data.getSideData(sessionId, now, fresh);
  }

  /** Stops listening; the connection and the broadcast stay open (they are the caller's). */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.#listeners.clear();
  }

  /** Notices a dropped subscription as soon as possible: the grace period counts from the last moment the copy was known exact. */
  #observe(): void {
    if (!this.#exact) return;
    if (this.#broadcast.live) this.#exactAt = this.#nowMs();
    else this.#exact = false;
  }

  #tick(): void {
    this.#observe();
    if (this.#closed || !this.#broadcast.live) return;
    if (!this.#exact) void this.#sync();
    else if (this.#pending.size > 0 || this.#pendingFloor !== undefined) void this.#flush().catch(() => undefined);
  }

  /** Writes what is pending, then reloads the copy in full. One at a time; `strict` rethrows a failure. */
  #sync(strict = false): Promise<void> {
    this.#syncing ??= this.#load().finally(() => (this.#syncing = undefined));
    return strict ? this.#syncing : this.#syncing.catch((error: unknown) => this.#options.onStoreError?.(error));
  }

  async #load(): Promise<void> {
    const startedAt = this.#nowMs();
    const wasLive = this.#broadcast.live;
    const resyncs = this.#resyncs;
    await this.#flush();
    const now = Math.floor(startedAt / 1000);
    const results = await this.#redis.client
      .multi()
      .zremrangebyscore(this.#keys.revokedIndex, '-inf', now)
      .zrange(this.#keys.revokedIndex, 0, -1, 'WITHSCORES')
      .get(this.#keys.floor)
      .exec();
    if (!results) throw new Error('Redis discarded the revocation read');
    for (const [error] of results) if (error) throw error;
    const members = results[1]?.[1] as string[];
    const storedFloor = results[2]?.[1] as string | null;
    const loaded = new Map<string, Revoked>();
    for (let i = 0; i + 1 < members.length; i += 2) {
      const parsed = parseRevokedMember(members[i] ?? '');
      if (parsed) loaded.set(parsed.sessionId, { issuedAt: parsed.issuedAt, until: Number(members[i + 1]) });
    }
    const floor = storedFloor === null ? Number.NEGATIVE_INFINITY : Number(storedFloor);
    // What this instance holds and Redis does not (Redis lost it, or a write is still pending) is kept and written back.
    for (const [sessionId, entry] of this.#revoked) {
      if (entry.until > now && entry.issuedAt > floor && !loaded.has(sessionId)) this.#pending.set(sessionId, entry);
    }
    if (this.#floor > floor) this.#pendingFloor = Math.max(this.#pendingFloor ?? this.#floor, this.#floor);
    for (const [sessionId, entry] of loaded) this.#revoked.set(sessionId, entry);
    for (const [sessionId, entry] of this.#revoked) if (entry.until <= now) this.#revoked.delete(sessionId);
    this.#floor = Math.max(this.#floor, floor);
    await this.#flush();
    // Exact only when the subscription was up through the whole read (live at both ends, and not lost and back in between):
    // otherwise the next tick reads again.
    if (wasLive && this.#broadcast.live && resyncs === this.#resyncs) {
      this.#exact = true;
      this.#exactAt = startedAt;
    }
  }

  /** Writes pending revocations (and a raised floor) to Redis and announces them. Stops at the first failure; the rest stay pending. */
  async #flush(): Promise<void> {
    if (this.#pendingFloor !== undefined) {
      const floor = this.#pendingFloor;
      await this.#redis.client.eval(RAISE_FLOOR, 1, this.#keys.floor, String(floor));
      await this.#broadcast.publish(SESSION_REVOKED_CHANNEL, JSON.stringify({ sid: '', iat: 0, until: 0, floor }));
      if (this.#pendingFloor === floor) this.#pendingFloor = undefined;
    }
    const nowSeconds = Math.floor(this.#nowMs() / 1000);
    for (const [sessionId, entry] of [...this.#pending]) {
      if (entry.until <= nowSeconds) {
        this.#pending.delete(sessionId);
        continue;
      }
      const raised = (await this.#redis.client.eval(
        REVOKE,
        4,
        this.#keys.revokedIndex,
        this.#keys.revoked + sessionId,
        this.#keys.side + sessionId,
        this.#keys.floor,
        sessionId,
        String(entry.issuedAt),
        String(entry.until),
        String(nowSeconds),
        String(this.#maxRevoked),
        this.#keys.revoked,
      )) as string | null;
      const floor = raised === null ? undefined : Number(raised);
      if (floor !== undefined) this.#raiseFloor(floor, true);
      await this.#broadcast.publish(
        SESSION_REVOKED_CHANNEL,
        JSON.stringify({ sid: sessionId, iat: entry.issuedAt, until: entry.until, ...(floor !== undefined ? { floor } : {}) }),
      );
      // Pending until announced as well as written: on a Cluster the PUBLISH can fail on a node that died while the write succeeded
      // on another, and the other instances, whose subscriptions never dropped, would not resync. Writing it again changes nothing.
      if (this.#pending.get(sessionId) === entry) this.#pending.delete(sessionId);
    }
  }

  #heard(message: string): void {
    const parsed = parseRevokedMessage(message);
    if (!parsed) return;
    if (parsed.floor !== undefined) this.#raiseFloor(parsed.floor, false);
    if (parsed.sid === '') return;
    this.#remember(parsed.sid, { issuedAt: parsed.iat, until: parsed.until });
    this.#notify(parsed.sid);
  }

  /**
   * Keeps a revocation in the copy. Redis bounds the shared list (and moves the floor); the copy may
   * hold twice that, for revocations made while Redis was unreachable. Past that, the soonest to
   * expire goes and the floor rises, here and in Redis once it answers: fail closed.
   */
  #remember(sessionId: string, entry: Revoked): void {
    this.#revoked.set(sessionId, entry);
    if (this.#revoked.size <= 2 * this.#maxRevoked) return;
    const nowSeconds = Math.floor(this.#nowMs() / 1000);
    for (const [id, kept] of this.#revoked) if (kept.until <= nowSeconds) this.#revoked.delete(id);
    while (this.#revoked.size > 2 * this.#maxRevoked) {
      let soonest: [string, Revoked] | undefined;
      for (const kept of this.#revoked) if (!soonest || kept[1].until < soonest[1].until) soonest = kept;
      if (!soonest) break;
      const [id, evicted] = soonest;
      this.#revoked.delete(id);
      this.#pending.delete(id);
      if (evicted.issuedAt > this.#floor) {
        this.#pendingFloor = Math.max(this.#pendingFloor ?? evicted.issuedAt, evicted.issuedAt);
        this.#raiseFloor(evicted.issuedAt, true);
      }
    }
  }

  /** `ours`: this instance raised it, so this instance tells the operator (once across instances). */
  #raiseFloor(floor: number, ours: boolean): void {
    if (floor <= this.#floor) return;
    this.#floor = floor;
    if (ours) this.#options.onRevocationOverflow?.(floor);
  }

  #notify(sessionId: string): void {
    this.#data.forget(sessionId);
    for (const listener of [...this.#listeners]) listener(sessionId);
  }
}
