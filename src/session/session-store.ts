import { MAX_REVOKED_SESSIONS, MAX_SESSION_SIDE_BYTES, MAX_SESSION_SIDE_ENTRIES, MAX_USED_SIGNIN_STATES } from '../limits.ts';
import { ExpiringMap } from './expiring-map.ts';
import { revokesIssuedBefore } from './idp-session.ts';
import type { RefreshState } from './refresh-state.ts';
import { SideDataTable } from './side-data-table.ts';

/** Session data too large for the cookie, or only needed server side. */
export interface SessionSideData {
  /** Group claims that did not fit in the cookie. */
  readonly groups?: readonly string[];
  /** The ID token, kept for RP-initiated logout's id_token_hint. */
  readonly idToken?: string;
  /** With session.refresh: the sealed refresh token, the current ID token's times and what it says. */
  readonly refresh?: RefreshState;
}

/**
 * What the gateway keeps besides the sealed cookies. Narrow and async on
 * purpose, so a shared store (Redis) can implement it for several instances.
 * All times are epoch seconds.
 */
export interface SessionStore {
  /** Ends a session for good: its cookie is refused until it would have expired anyway. */
  revoke(sessionId: string, issuedAt: number, until: number, now: number): Promise<void>;
  isRevoked(sessionId: string, issuedAt: number, now: number): Promise<boolean>;
  /**
   * Optional: whether any of `keys` (a session, its provider session, its user) is revoked for a session issued at
   * `issuedAt`, in one round trip. The gate asks this on every request; a store without it is asked key by key.
   */
  isAnyRevoked?(keys: readonly string[], issuedAt: number, now: number): Promise<boolean>;
  /** Records a sign-in state as used. Resolves false when it was used before (a replay). */
  consumeState(stateKey: string, until: number, now: number): Promise<boolean>;
  /**
   * Keeps data for a live session until `until`. Resolves false, and keeps
   * nothing, when the store is full: it never makes room by dropping data
   * another live session still needs.
   */
  putSideData(sessionId: string, data: SessionSideData, until: number, now: number): Promise<boolean>;
  /** `fresh`: read past any local copy (a store shared by instances may cache), for data another instance may just have changed. */
  getSideData(sessionId: string, now: number, fresh?: boolean): Promise<SessionSideData | undefined>;
}

/** The bounds and the operator's hooks, the same for every store. */
export interface MemorySessionStoreOptions {
  readonly maxRevoked?: number;
  readonly maxSideEntries?: number;
  /** Approximate bytes of side data (ID tokens, group lists). */
  readonly maxSideBytes?: number;
  readonly maxUsedStates?: number;
  /**
   * Called when the revocation list is full. The store then refuses every
   * session issued at or before the evicted one, so that no revoked session
   * comes back to life: it fails closed.
   */
  readonly onRevocationOverflow?: (refusedBefore: number) => void;
  /** Called when side data was refused because the store is full (for the operator's log). */
  readonly onSideDataFull?: (stats: { readonly entries: number; readonly bytes: number }) => void;
}

/** The embedded default: bounded, in memory, for a single gateway instance. */
export class MemorySessionStore implements SessionStore {
  #refuseIssuedAtOrBefore = Number.NEGATIVE_INFINITY;
  readonly #revoked: ExpiringMap<string, number>;
  readonly #side: SideDataTable<SessionSideData>;
  readonly #usedStates: ExpiringMap<string, true>;
  readonly #onSideDataFull: MemorySessionStoreOptions['onSideDataFull'];

  constructor(options: MemorySessionStoreOptions = {}) {
    this.#revoked = new ExpiringMap(options.maxRevoked ?? MAX_REVOKED_SESSIONS, (_sid, issuedAt) => {
      if (issuedAt > this.#refuseIssuedAtOrBefore) {
        this.#refuseIssuedAtOrBefore = issuedAt;
        options.onRevocationOverflow?.(issuedAt);
      }
    });
    this.#side = new SideDataTable({
      maxEntries: options.maxSideEntries ?? MAX_SESSION_SIDE_ENTRIES,
      maxBytes: options.maxSideBytes ?? MAX_SESSION_SIDE_BYTES,
      sizeOf: sideDataBytes,
    });
    this.#onSideDataFull = options.onSideDataFull;
    this.#usedStates = new ExpiringMap(options.maxUsedStates ?? MAX_USED_SIGNIN_STATES);
  }

  revoke(sessionId: string, issuedAt: number, until: number, now: number): Promise<void> {
    this.#revoked.set(sessionId, issuedAt, until, now);
    this.#side.delete(sessionId);
    return Promise.resolve();
  }

  isRevoked(sessionId: string, issuedAt: number, now: number): Promise<boolean> {
    const revokedAt = this.#revoked.get(sessionId, now);
    const hit = revokedAt !== undefined && (!revokesIssuedBefore(sessionId) || issuedAt <= revokedAt);
    return Promise.resolve(issuedAt <= this.#refuseIssuedAtOrBefore || hit);
  }

  consumeState(stateKey: string, until: number, now: number): Promise<boolean> {
    if (this.#usedStates.has(stateKey, now)) return Promise.resolve(false);
    this.#usedStates.set(stateKey, true, until, now);
    return Promise.resolve(true);
  }

  putSideData(sessionId: string, data: SessionSideData, until: number, now: number): Promise<boolean> {
    const stored = this.#side.add(sessionId, data, until, now);
    if (!stored) this.#onSideDataFull?.({ entries: this.#side.size, bytes: this.#side.bytes });
    return Promise.resolve(stored);
  }

  /** Nothing is cached: every read is fresh. */
  getSideData(sessionId: string, now: number, _fresh?: boolean): Promise<SessionSideData | undefined> {
    return Promise.resolve(this.#side.get(sessionId, now));
  }
}

/** Roughly what an entry costs: its strings, plus the Map and object overhead. Both stores count the same, so a bound means the same on either. */
export function sideDataBytes(data: SessionSideData): number {
  let bytes = 256 + (data.idToken?.length ?? 0) + (data.refresh ? JSON.stringify(data.refresh).length : 0);
  for (const group of data.groups ?? []) bytes += 32 + group.length;
  return bytes;
}

/** isAnyRevoked for a store that answers one key at a time: key by key, stopping at the first revoked. */
export async function anyRevoked(store: Pick<SessionStore, 'isRevoked'>, keys: readonly string[], issuedAt: number, now: number): Promise<boolean> {
  for (const key of keys) if (await store.isRevoked(key, issuedAt, now)) return true;
  return false;
}
