import { setTimeout as sleep } from 'node:timers/promises';
import { nowSeconds, type Clock } from '../clock.ts';
import { MAX_REFRESH_UNSAVED_ENTRIES, SESSION_REFRESH_WRITE_MARGIN_SECONDS, SESSION_REFRESH_WRITE_RETRY_MS } from '../limits.ts';
import { ExpiringMap } from './expiring-map.ts';
import type { RefreshState } from './refresh-state.ts';
import type { SessionSideData, SessionStore } from './session-store.ts';

/** A refreshed session's side data: what the store is to hold once the provider answered. */
export type RefreshedSideData = SessionSideData & { readonly refresh: RefreshState };

/**
 * Refreshed states the store has not taken yet, kept by the instance that
 * got them from the provider. The provider may have rotated the refresh
 * token: the one in the store is then spent, and sending it again is a
 * replay that a rotating provider answers by revoking the whole grant. So a
 * failed write is never let go: it is tried again in the background while
 * this instance holds the generation's refresh lease (no other instance
 * spends the old token meanwhile), and this instance answers from the state
 * it holds. If the store takes nothing until shortly before the lease runs
 * out, the session is ended instead, audited, before any instance can send
 * the spent token.
 */
export class UnsavedRefreshes {
  readonly #store: SessionStore;
  readonly #clock: Clock;
  readonly #held = new ExpiringMap<string, RefreshedSideData>(MAX_REFRESH_UNSAVED_ENTRIES);
  readonly #ended = new ExpiringMap<string, true>(MAX_REFRESH_UNSAVED_ENTRIES);

  constructor(store: SessionStore, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  /** The refreshed state this instance holds for the session, not yet in the store. */
  held(sessionId: string): RefreshedSideData | undefined {
    return this.#held.get(sessionId, nowSeconds(this.#clock));
  }

  /** The session was ended here because its refreshed state could not be stored (its revocation may not have reached the store either). */
  ended(sessionId: string): boolean {
    return this.#ended.has(sessionId, nowSeconds(this.#clock));
  }

  /** Writes `data` with a few quick retries; false when the store still refused it or could not be reached. */
  async write(sessionId: string, data: RefreshedSideData, until: number): Promise<boolean> {
    for (const delay of [0, ...SESSION_REFRESH_WRITE_RETRY_MS]) {
      if (delay > 0) await sleep(delay);
      if (await this.#tryWrite(sessionId, data, until)) return true;
    }
    return false;
  }

  /**
   * Keeps `data` for the session and writes it again in the background until
   * SESSION_REFRESH_WRITE_MARGIN_SECONDS before `leaseEnds`; if the store never
   * took it, `giveUp` ends the session.
   */
  hold(sessionId: string, data: RefreshedSideData, until: number, leaseEnds: number, giveUp: () => Promise<void>): void {
    const giveUpAt = leaseEnds - SESSION_REFRESH_WRITE_MARGIN_SECONDS;
    this.#held.set(sessionId, data, leaseEnds, nowSeconds(this.#clock));
    void this.#retry(sessionId, data, until, giveUpAt).then(async (stored) => {
      this.#held.delete(sessionId);
      if (stored) return;
      this.#ended.set(sessionId, true, until, nowSeconds(this.#clock));
      await giveUp();
    });
  }

  async #retry(sessionId: string, data: RefreshedSideData, until: number, giveUpAt: number): Promise<boolean> {
    let delay = SESSION_REFRESH_WRITE_RETRY_MS.at(-1) ?? 500;
    for (;;) {
      // Not holding the process open: a gateway closing drops what it could not store, as a crash would.
      await sleep(delay, undefined, { ref: false });
      if (nowSeconds(this.#clock) >= giveUpAt) return false;
      if (await this.#tryWrite(sessionId, data, until)) return true;
      delay = Math.min(delay * 2, 4_000);
    }
  }

  async #tryWrite(sessionId: string, data: RefreshedSideData, until: number): Promise<boolean> {
    try {
      return await this.#store.putSideData(sessionId, data, until, nowSeconds(this.#clock));
    } catch {
      return false;
    }
  }
}
