import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditLog } from '../audit/audit-log.ts';
import { nowSeconds, type Clock } from '../clock.ts';
import type { AppConfig } from '../config/parse.ts';
import { GatehouseError } from '../errors/index.ts';
import { SESSION_REFRESH_LOCK_SECONDS, SESSION_REFRESH_POLL_MS } from '../limits.ts';
import { refreshDueAt, refreshLockKey, sealRefreshToken, unsealRefreshToken, type RefreshState } from './refresh-state.ts';
import type { SealKeys } from './seal-keys.ts';
import { identityOf, refreshedUser } from './session-claims.ts';
import type { RefreshAuditContext, SessionCheck, SessionManager, SessionRefreshing } from './session-manager.ts';
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
}

type Outcome =
  | { readonly kind: 'refreshed'; readonly state: RefreshState; readonly groups?: readonly string[] | undefined }
  | { readonly kind: 'kept' }
  | { readonly kind: 'ended' };

/**
 * Refreshes a session's ID token before it expires (session.refresh), from the
 * session gate, so every request, XHR included, is answered from the refreshed
 * claims and goes on to conditional access with them; nothing here redirects.
 *
 * One refresh per session at a time: in this process, concurrent requests
 * share one attempt; across instances, the right to spend a generation's
 * refresh token is a used-once store key (`consumeState`, the primitive that
 * already makes sign-in states single-use on every store) held for
 * SESSION_REFRESH_LOCK_SECONDS. A lease, not compare-and-set on the record,
 * because the token must not even be sent twice: a rotating provider treats a
 * second use as theft and revokes the whole grant. A holder that dies leaves
 * the session to its current ID token until the lease ends.
 *
 * The provider refusing (invalid_grant: revoked, user disabled) ends the
 * session everywhere and closes its WebSockets; a provider that cannot be
 * reached leaves it as it is until its ID token expires, then it fails closed.
 */
export class SessionRefresher implements SessionRefreshing {
  readonly #options: SessionRefresherOptions;
  readonly #inFlight = new Map<string, Promise<Outcome>>();

  constructor(options: SessionRefresherOptions) {
    this.#options = options;
  }

  async settle(check: SessionCheck & { readonly record: SessionRecord }, app: AppConfig, context: RefreshAuditContext): Promise<SessionCheck> {
    const state = check.refresh;
    if (!state) return check;
    const now = nowSeconds(this.#options.clock);
    if (check.ok && now < refreshDueAt(state)) return check;
    const record = check.record;
    let attempt = this.#inFlight.get(record.sid);
    if (!attempt) {
      attempt = this.#attempt(record, app, state, context).finally(() => this.#inFlight.delete(record.sid));
      this.#inFlight.set(record.sid, attempt);
    }
    const outcome = await attempt;
    if (outcome.kind === 'ended') return { ok: false, reason: 'revoked', record };
    if (outcome.kind === 'refreshed') {
      const identity = identityOf(record, outcome.groups ?? (check.ok ? check.identity.groups : []), outcome.state.user);
      return check.ok ? { ...check, identity, refresh: outcome.state } : { ok: true, identity, record, refresh: outcome.state };
    }
    // Not refreshed this time: the current ID token serves while it is valid, and not a second longer.
    return check.ok && nowSeconds(this.#options.clock) < state.exp ? check : { ok: false, reason: 'expired', record, refresh: state };
  }

  async #attempt(record: SessionRecord, app: AppConfig, seen: RefreshState, context: RefreshAuditContext): Promise<Outcome> {
    const { store } = this.#options;
    const now = nowSeconds(this.#options.clock);
    let holder: boolean;
    try {
      holder = await store.consumeState(refreshLockKey(record.sid, seen.gen), now + SESSION_REFRESH_LOCK_SECONDS, now);
    } catch {
      return { kind: 'kept' };
    }
    if (!holder) return this.#awaitOther(record, seen);
    const side = await store.getSideData(record.sid, now, true);
    if (!side?.refresh) return { kind: 'kept' };
    // Another instance finished between our read and the lease.
    if (side.refresh.gen !== seen.gen) return { kind: 'refreshed', state: side.refresh, groups: side.groups };
    const token = await unsealRefreshToken(side.refresh.token, this.#options.keys.refresh);
    if (token === undefined) return this.#end(record, app, context, 'refresh_token_unreadable');
    let tokens: RefreshedTokens;
    try {
      tokens = await this.#options.grant(token, record.sub);
    } catch (error) {
      const failure = error instanceof GatehouseError ? error : new GatehouseError('ERR_IDP_ERROR', 'unexpected', { cause: error });
      if (isTransient(failure)) return { kind: 'kept' };
      return this.#end(record, app, context, failure.reason);
    }
    return this.#keep(record, app, side, side.refresh, tokens, token, context);
  }

  async #keep(
    record: SessionRecord,
    app: AppConfig,
    side: SessionSideData,
    previous: RefreshState,
    tokens: RefreshedTokens,
    spent: string,
    context: RefreshAuditContext,
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
    const next: SessionSideData = { ...side, idToken: tokens.idToken, ...(side.groups ? { groups: [...user.groups] } : {}), refresh: state };
    let stored: boolean;
    try {
      stored = await this.#options.store.putSideData(record.sid, next, record.exp, now);
    } catch {
      stored = false;
    }
    // Not kept: the session goes on with its current ID token (a rotated refresh token is lost with it).
    if (!stored) return { kind: 'kept' };
    this.#options.audit.emit({
      type: 'session.refreshed',
      outcome: 'success',
      user: { sub: record.sub, name: user.name, email: user.email },
      app: app.id,
      ...context,
      details: { sessionId: record.sid, idTokenExpiresAt: state.exp, rotated: tokens.refreshToken !== undefined && tokens.refreshToken !== spent },
    });
    return { kind: 'refreshed', state, groups: user.groups };
  }

  /** Another holder (here or on another instance) is spending this generation's token: wait for its result while the ID token has expired. */
  async #awaitOther(record: SessionRecord, seen: RefreshState): Promise<Outcome> {
    const deadline = Date.now() + SESSION_REFRESH_LOCK_SECONDS * 1000;
    for (;;) {
      if (nowSeconds(this.#options.clock) < seen.exp) return { kind: 'kept' };
      let side: SessionSideData | undefined;
      try {
        side = await this.#options.store.getSideData(record.sid, nowSeconds(this.#options.clock), true);
      } catch {
        return { kind: 'kept' };
      }
      if (!side?.refresh) return { kind: 'kept' };
      if (side.refresh.gen !== seen.gen) return { kind: 'refreshed', state: side.refresh, groups: side.groups };
      if (Date.now() >= deadline) return { kind: 'kept' };
      await sleep(SESSION_REFRESH_POLL_MS);
    }
  }

  async #end(record: SessionRecord, app: AppConfig, context: RefreshAuditContext, reason: string): Promise<Outcome> {
    try {
      await this.#options.sessions.revoke(record);
    } catch {
      // The store is down: the session still cannot go on past its ID token, which nothing will refresh now.
    }
    this.#options.sockets.closeSession(record.sid);
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

/**
 * Whether a failed refresh may work later: the provider could not be reached
 * or had trouble of its own. Anything it answered with a verdict about the
 * token (invalid_grant and the like) or a token that fails its checks ends the session.
 */
function isTransient(error: GatehouseError): boolean {
  if (error.code === 'ERR_IDP_UNAVAILABLE' || error.code === 'ERR_STORE_UNAVAILABLE') return true;
  if (error.code !== 'ERR_IDP_ERROR') return false;
  if (!error.reason.startsWith('token_endpoint:')) return true;
  return error.reason === 'token_endpoint:server_error' || error.reason === 'token_endpoint:temporarily_unavailable';
}
