import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditLog } from '../audit/audit-log.ts';
import { nowSeconds, type Clock } from '../clock.ts';
import type { AppConfig } from '../config/parse.ts';
import { GatehouseError } from '../errors/index.ts';
import {
  MAX_REFRESH_UNSAVED_ENTRIES,
  SESSION_REFRESH_LOCK_SECONDS,
  SESSION_REFRESH_POLL_MS,
  SESSION_REFRESH_RETRY_SECONDS,
  SESSION_REFRESH_WAIT_SECONDS,
  SESSION_REFRESH_WRITE_MARGIN_SECONDS,
} from '../limits.ts';
import { ExpiringMap } from './expiring-map.ts';
import { refreshDueAt, refreshLockKey, sealRefreshToken, unsealRefreshToken, type RefreshState } from './refresh-state.ts';
import { retryableAnswer, storeFailure } from './refresh-failure.ts';
import { UnsavedRefreshes, type RefreshedSideData } from './refresh-unsaved.ts';
import type { SealKeys } from './seal-keys.ts';
import { identityOf, refreshedUser } from './session-claims.ts';
import type { RefreshAuditContext, SessionCheck, SessionManager, SessionObserver, SessionRefreshing } from './session-manager.ts';
import type { SessionRecord } from './session-record.ts';
import type { SessionSockets } from './session-sockets.ts';
import type { SessionSideData, SessionStore } from './session-store.ts';

/** What the identity provider answered a refresh with: a new ID token, already verified, naming the same user. */
/** The scopes a sign-in asks for: with `session.refresh`, `offline_access` too (what asks for a refresh token), unless named already. */
export function signInScopes(scopes: readonly string[], refresh: boolean): readonly string[] {
  return refresh && !scopes.includes('offline_access') ? [...scopes, 'offline_access'] : scopes;
}

export interface RefreshedTokens {
  readonly claims: Readonly<Record<string, unknown>> & { readonly exp: number; readonly iat: number };
  readonly idToken: string;
  /** A rotated refresh token; absent: the one spent stays valid. */
  readonly refreshToken?: string | undefined;
  /** The user's groups as the provider client resolved them (groups claim, or the groups endpoint on overage). */
  readonly groups?: readonly string[] | undefined;
}

/** Spends a refresh token at the identity provider (the gateway passes its OIDC client's). */
export type RefreshGrant = (refreshToken: string, expectedSub: string) => Promise<RefreshedTokens>;

export interface SessionRefresherOptions {
  readonly sessions: SessionManager;
  readonly store: SessionStore;
  readonly keys: SealKeys;
  readonly clock: Clock;
  readonly sockets: SessionSockets;
  readonly audit: AuditLog;
  readonly grant: RefreshGrant;
  /** How long an instance holds the right to spend a generation's token (refreshLeaseSeconds). Default SESSION_REFRESH_LOCK_SECONDS. */
  readonly leaseSeconds?: number | undefined;
  /** Told of each refresh attempt's outcome (the gateway's metrics). */
  readonly observer?: SessionObserver | undefined;
}

type Outcome =
  | { readonly kind: 'refreshed'; readonly state: RefreshState; readonly groups?: readonly string[] | undefined }
  /** Not refreshed this time, for a reason that may pass (`error`, answered once the current ID token has expired). */
  | { readonly kind: 'kept'; readonly error?: GatehouseError }
  /** The session's refresh state is gone from the store: it ended (revoked elsewhere) or expired. */
  | { readonly kind: 'gone' }
  | { readonly kind: 'ended' };

/** A lease this instance holds after a failure that may pass: when it asks the provider again, and what it answers meanwhile. */
interface HeldAfterFailure {
  readonly gen: number;
  readonly retryAt: number;
  readonly leaseEnds: number;
  readonly error: GatehouseError;
}

const KEPT: Outcome = { kind: 'kept' };
const GONE: Outcome = { kind: 'gone' };

/**
 * Refreshes a session's ID token before it expires (session.refresh), from the
 * session gate and from an open WebSocket's periodic check, so every request,
 * XHR included, is answered from the refreshed claims and goes on to
 * conditional access with them; nothing here redirects.
 *
 * One refresh per session at a time: in this process, concurrent requests
 * share one attempt; across instances, the right to spend a generation's
 * refresh token is a used-once store key (`consumeState`, the primitive that
 * already makes sign-in states single-use on every store) held for
 * SESSION_REFRESH_LOCK_SECONDS. A lease, not compare-and-set on the record,
 * because the token must not even be sent twice: a rotating provider treats a
 * second use as theft and revokes the whole grant. While another holder has
 * the lease, a request whose ID token still holds is served with it; one
 * whose ID token has expired waits for the holder's result, and takes the
 * lease itself once it ran out (a holder that died), for SESSION_REFRESH_WAIT_SECONDS at most.
 *
 * Only the provider's verdict (invalid_grant: revoked, user disabled) ends
 * the session, everywhere, closing its WebSockets. A failure that may pass
 * (provider or store out of reach, the wait running out) never ends it or
 * clears its cookie: the current ID token serves while valid, then requests
 * get 503 (retryable) until a refresh succeeds. A refreshed state the store
 * would not take is held and written again (UnsavedRefreshes).
 */
export class SessionRefresher implements SessionRefreshing {
  readonly #options: SessionRefresherOptions;
  readonly #inFlight = new Map<string, Promise<Outcome>>();
  readonly #failed = new ExpiringMap<string, HeldAfterFailure>(MAX_REFRESH_UNSAVED_ENTRIES);
  readonly #unsaved: UnsavedRefreshes;
  readonly #leaseSeconds: number;

  constructor(options: SessionRefresherOptions) {
    this.#options = options;
    this.#leaseSeconds = options.leaseSeconds ?? SESSION_REFRESH_LOCK_SECONDS;
    this.#unsaved = new UnsavedRefreshes(options.store, options.clock);
  }

  /**
   * The session check with its ID token refreshed when due. Throws a
   * retryable GatehouseError (503) when the ID token has expired and could not
   * be refreshed for a reason that may pass.
   */
  async settle(check: SessionCheck & { readonly record: SessionRecord }, app: AppConfig, context: RefreshAuditContext): Promise<SessionCheck> {
    const state = check.refresh;
    if (!state) return check;
    const record = check.record;
    if (this.#unsaved.ended(record.sid)) return { ok: false, reason: 'revoked', record };
    const now = nowSeconds(this.#options.clock);
    const held = this.#unsaved.held(record.sid);
    if (held && held.refresh.gen > state.gen) {
      // Refreshed here, not yet stored: it serves while valid, and is not refreshed again before the store has it.
      if (now < held.refresh.exp) return refreshedCheck(check, held.refresh, held.groups);
      throw new GatehouseError('ERR_STORE_UNAVAILABLE', 'refresh_state_unsaved');
    }
    if (check.ok && now < refreshDueAt(state)) return check;
    let attempt = this.#inFlight.get(record.sid);
    if (!attempt) {
      attempt = this.#attempt(record, app, state, context).finally(() => this.#inFlight.delete(record.sid));
      this.#inFlight.set(record.sid, attempt);
    }
    const outcome = await attempt;
    if (outcome.kind === 'ended') return { ok: false, reason: 'revoked', record };
    if (outcome.kind === 'gone') return { ok: false, reason: 'expired', record };
    if (outcome.kind === 'refreshed') return refreshedCheck(check, outcome.state, outcome.groups);
    // Not refreshed this time: the current ID token serves while it is valid, and not a second longer.
    if (check.ok && nowSeconds(this.#options.clock) < state.exp) return check;
    throw outcome.error ?? new GatehouseError('ERR_IDP_UNAVAILABLE', 'refresh_pending');
  }

  async #attempt(record: SessionRecord, app: AppConfig, seen: RefreshState, context: RefreshAuditContext): Promise<Outcome> {
    const { store, clock } = this.#options;
    const waitUntil = clock() + SESSION_REFRESH_WAIT_SECONDS * 1000;
    for (;;) {
      const now = nowSeconds(clock);
      const failed = this.#failed.get(record.sid, now);
      let holder: boolean;
      let leaseEnds = now + this.#leaseSeconds;
      if (failed?.gen === seen.gen && now < failed.leaseEnds - SESSION_REFRESH_WRITE_MARGIN_SECONDS) {
        // This instance still holds the lease after a failure that may pass: it asks again, but not at once.
        if (now < failed.retryAt) return { kind: 'kept', error: failed.error };
        holder = true;
        leaseEnds = failed.leaseEnds;
      } else {
        try {
          holder = await store.consumeState(refreshLockKey(record.sid, seen.gen), leaseEnds, now);
        } catch (error) {
          return { kind: 'kept', error: storeFailure(error) };
        }
      }
      if (holder) {
        const outcome = await this.#spend(record, app, seen, context, leaseEnds);
        if (!('newer' in outcome)) return outcome;
        seen = outcome.newer;
        continue;
      }
      // Another holder, here or on another instance: its result if it is in the store, else the current ID token while it holds.
      const expired = now >= seen.exp;
      if (expired && clock() >= waitUntil) return { kind: 'kept', error: new GatehouseError('ERR_IDP_UNAVAILABLE', 'refresh_pending') };
      if (expired) await sleep(SESSION_REFRESH_POLL_MS);
      let side: SessionSideData | undefined;
      try {
        side = await store.getSideData(record.sid, nowSeconds(clock), true);
      } catch (error) {
        return expired ? { kind: 'kept', error: storeFailure(error) } : KEPT;
      }
      if (!side?.refresh) return GONE;
      if (side.refresh.gen !== seen.gen) {
        if (nowSeconds(clock) < side.refresh.exp) return { kind: 'refreshed', state: side.refresh, groups: side.groups };
        seen = side.refresh;
        continue;
      }
      if (!expired) return KEPT;
      // Then the lease again: taken, it ran out without a result (its holder died).
    }
  }

  /** Spends generation `seen`'s refresh token, this instance holding its lease until `leaseEnds`. */
  async #spend(
    record: SessionRecord,
    app: AppConfig,
    seen: RefreshState,
    context: RefreshAuditContext,
    leaseEnds: number,
  ): Promise<Outcome | { readonly newer: RefreshState }> {
    const { store, clock } = this.#options;
    let side: SessionSideData | undefined;
    try {
      side = await store.getSideData(record.sid, nowSeconds(clock), true);
    } catch (error) {
      return { kind: 'kept', error: storeFailure(error) };
    }
    if (!side?.refresh) return GONE;
    if (side.refresh.gen !== seen.gen) {
      // Another instance finished between our read and the lease; its ID token may be due in turn.
      if (nowSeconds(clock) < refreshDueAt(side.refresh)) return { kind: 'refreshed', state: side.refresh, groups: side.groups };
      return { newer: side.refresh };
    }
    const token = await unsealRefreshToken(side.refresh.token, this.#options.keys.refresh);
    if (token === undefined) return this.#end(record, app, context, 'refresh_token_unreadable');
    let tokens: RefreshedTokens;
    try {
      tokens = await this.#options.grant(token, record.sub);
    } catch (error) {
      const failure = error instanceof GatehouseError ? error : new GatehouseError('ERR_IDP_ERROR', 'unexpected', { cause: error });
      const answer = retryableAnswer(failure);
      if (!answer) return this.#end(record, app, context, failure.reason);
      this.#options.observer?.refreshed?.(app.id, 'unavailable');
      const now = nowSeconds(clock);
      this.#failed.set(record.sid, { gen: seen.gen, retryAt: now + SESSION_REFRESH_RETRY_SECONDS, leaseEnds, error: answer }, leaseEnds, now);
      return { kind: 'kept', error: answer };
    }
    this.#failed.delete(record.sid);
    return this.#keep(record, app, side, side.refresh, tokens, token, context, leaseEnds);
  }

  async #keep(
    record: SessionRecord,
    app: AppConfig,
    side: SessionSideData,
    previous: RefreshState,
    tokens: RefreshedTokens,
    spent: string,
    context: RefreshAuditContext,
    leaseEnds: number,
  ): Promise<Outcome> {
    const now = nowSeconds(this.#options.clock);
    const user = refreshedUser(app, tokens.claims, tokens.groups);
    const state: RefreshState = {
      token: await sealRefreshToken(tokens.refreshToken ?? spent, this.#options.keys.refresh, record.exp - now),
      iat: tokens.claims.iat,
      exp: Math.min(tokens.claims.exp, record.exp),
      gen: previous.gen + 1,
      user,
    };
    const next: RefreshedSideData = { ...side, idToken: tokens.idToken, ...(side.groups ? { groups: [...user.groups] } : {}), refresh: state };
    const stored = await this.#unsaved.write(record.sid, next, record.exp);
    const rotated = tokens.refreshToken !== undefined && tokens.refreshToken !== spent;
    this.#options.observer?.refreshed?.(app.id, 'refreshed');
    this.#options.audit.emit({
      type: 'session.refreshed',
      outcome: 'success',
      user: { sub: record.sub, name: user.name, email: user.email },
      app: app.id,
      ...context,
      details: { sessionId: record.sid, idTokenExpiresAt: state.exp, rotated, ...(stored ? {} : { stored: false }) },
    });
    // The store did not take it: this instance holds it (the lease keeps the others off the spent token) and writes it again.
    if (!stored) this.#unsaved.hold(record.sid, next, record.exp, leaseEnds, async () => void (await this.#end(record, app, context, 'refresh_state_unsaved')));
    return { kind: 'refreshed', state, groups: user.groups };
  }

  async #end(record: SessionRecord, app: AppConfig, context: RefreshAuditContext, reason: string): Promise<Outcome> {
    this.#failed.delete(record.sid);
    try {
      await this.#options.sessions.revoke(record);
    } catch {
      // The store is down: the session still cannot go on past its ID token, which nothing will refresh now.
    }
    this.#options.sockets.closeSession(record.sid);
    this.#options.observer?.refreshed?.(app.id, reason === 'refresh_state_unsaved' ? 'unsaved' : 'refused');
    this.#options.audit.emit({
      type: 'session.refresh_failed',
      outcome: 'failure',
      code: 'ERR_SESSION_REVOKED',
      reason,
      user: { sub: record.sub, name: record.name, email: record.email },
      app: app.id,
      ...context,
      details: { sessionId: record.sid },
    });
    return { kind: 'ended' };
  }
}

/** The check `check` becomes with a refreshed state: the identity from the refreshed ID token. */
function refreshedCheck(check: SessionCheck & { readonly record: SessionRecord }, state: RefreshState, groups: readonly string[] | undefined): SessionCheck {
  const identity = identityOf(check.record, groups ?? (check.ok ? check.identity.groups : []), state.user);
  return check.ok ? { ...check, identity, refresh: state } : { ok: true, identity, record: check.record, refresh: state };
}
