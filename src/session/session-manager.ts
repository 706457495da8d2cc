import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { nowSeconds, type Clock } from '../clock.ts';
import type { AppConfig } from '../config/parse.ts';
import { GatehouseError } from '../errors/index.ts';
import { MAX_SESSION_TOUCH_ENTRIES, MAX_SET_COOKIE_BYTES, MAX_UNSEAL_CACHE_ENTRIES, SESSION_TOUCH_INTERVAL_SECONDS } from '../limits.ts';
import type { Identity } from './identity.ts';
import type { RefreshState } from './refresh-state.ts';
import { sealRefreshToken } from './refresh-state.ts';
import { identityOf, keptClaims, recordIdentity, type SignedInUser } from './session-claims.ts';
import { expireCookie, readCookies, serializeCookie, sessionCookieName } from './cookies.ts';
import { ExpiringMap } from './expiring-map.ts';
import type { SealKeys } from './seal-keys.ts';
import { seal, unseal, type UnsealFailure } from './sealer.ts';
import { sessionRecordSchema, type SessionRecord } from './session-record.ts';
import type { SessionStore } from './session-store.ts';
import { UnsealCache } from './unseal-cache.ts';
import { externalUrlOf } from '../config/external-url.ts';
import { idpSessionTag } from './idp-session.ts';
import { isSessionRevoked, revokeIdpGroup, type IdpLogout } from './idp-revocation.ts';

export interface SessionDefaults {
  /** Seconds. */
  readonly maxLifetime: number;
  /** Seconds without a request after which the session ends. */
  readonly idleTimeout: number;
  readonly persistent: boolean;
}

export interface SessionManagerOptions {
  readonly cookieName: string;
  readonly keys: SealKeys;
  readonly store: SessionStore;
  readonly clock: Clock;
  readonly defaults: SessionDefaults;
  /** Told of every session issued and revoked (the gateway's metrics). */
  readonly observer?: SessionObserver;
}

/** What a refresh attempt at the provider came to: granted, refused (the session ended), out of reach (kept), or granted but never stored (ended). */
export type SessionRefreshOutcome = 'refreshed' | 'refused' | 'unavailable' | 'unsaved';

/** Told of every session issued and revoked, and of every refresh attempt, by app id. */
export interface SessionObserver {
  issued(appId: string): void;
  revoked(appId: string): void;
  refreshed?(appId: string, outcome: SessionRefreshOutcome): void;
}

export type SessionFailure = 'missing' | UnsealFailure | 'other_app' | 'idle' | 'revoked' | 'claims_unavailable';

export type SessionCheck =
  | { readonly ok: true; readonly identity: Identity; readonly record: SessionRecord; readonly refreshCookie?: string; readonly refresh?: RefreshState }
  | { readonly ok: false; readonly reason: SessionFailure; readonly record?: SessionRecord; readonly refresh?: RefreshState };
export { policyClaimNames, type SignedInUser } from './session-claims.ts';

/** Who refreshes sessions (session.refresh): attached by the gateway, asked by the session gate. */
export interface SessionRefreshing {
  settle(check: SessionCheck & { readonly record: SessionRecord }, app: AppConfig, audit: RefreshAuditContext): Promise<SessionCheck>;
}

/** Who a refresh that ends a session is audited for. */
export interface RefreshAuditContext {
  readonly clientIp?: string | undefined;
  readonly userAgent?: string | undefined;
  readonly requestId?: string | undefined;
}

export interface IssuedSession {
  readonly setCookie: string;
  readonly record: SessionRecord;
  /** False when the store was full: the session works, but logout cannot send id_token_hint. */
  readonly idTokenKept: boolean;
}

/** Seals, reads, refreshes and revokes the app-bound session cookie (step 5). */
export class SessionManager {
  readonly #options: SessionManagerOptions;
  readonly #unsealed = new UnsealCache<SessionRecord>(MAX_UNSEAL_CACHE_ENTRIES);
  /** Session id → when its cookie was last re-sealed (epoch seconds). */
  readonly #touched = new ExpiringMap<string, number>(MAX_SESSION_TOUCH_ENTRIES);
  /** Per app, made once (the gate asks on every request); a reload brings new app objects, and so new settings. */
  readonly #settings = new WeakMap<AppConfig, ReturnType<SessionManager['settingsFor']>>();
  #refresher: SessionRefreshing | undefined;

  constructor(options: SessionManagerOptions) {
    this.#options = options;
  }

  /** Turns session.refresh on: sessions issued from now on keep their refresh token, and the gate asks `refresher`. */
  attachRefresher(refresher: SessionRefreshing): void {
    this.#refresher = refresher;
  }

  get refresher(): SessionRefreshing | undefined {
    return this.#refresher;
  }

  settingsFor(app: AppConfig): SessionDefaults & { readonly secure: boolean; readonly cookieName: string } {
    const known = this.#settings.get(app);
    if (known) return known;
    const secure = externalUrlOf(app).secure;
    const settings = Object.freeze({
      maxLifetime: app.session.maxLifetime ?? this.#options.defaults.maxLifetime,
      idleTimeout: app.session.idleTimeout ?? this.#options.defaults.idleTimeout,
      persistent: app.session.persistent ?? this.#options.defaults.persistent,
      secure,
      cookieName: sessionCookieName(this.#options.cookieName, secure),
    });
    this.#settings.set(app, settings);
    return settings;
  }

  async read(req: IncomingMessage, app: AppConfig): Promise<SessionCheck> {
    const settings = this.settingsFor(app);
    const value = readCookies(req)[settings.cookieName];
    if (value === undefined || value === '') return { ok: false, reason: 'missing' };
    const now = nowSeconds(this.#options.clock);
    let record = this.#unsealed.get(value, now, req.socket);
    if (!record) {
      const unsealed = await unseal(value, this.#options.keys.session, sessionRecordSchema);
      if (!unsealed.ok) return { ok: false, reason: unsealed.reason };
      record = unsealed.value;
      this.#unsealed.set(value, record, record.exp, now, req.socket);
    }
    if (record.app !== app.id) return { ok: false, reason: 'other_app', record };
    if (now >= record.exp) return { ok: false, reason: 'expired', record };
    if (now - record.ls > settings.idleTimeout) return { ok: false, reason: 'idle', record };
    if (await this.#isRevoked(record, now)) return { ok: false, reason: 'revoked', record };

    let groups = record.groups ?? [];
    let refresh: RefreshState | undefined;
    if (record.gs === 1 || record.rf === 1) {
      const side = await this.#options.store.getSideData(record.sid, now);
      if (record.gs === 1 && !side?.groups) return { ok: false, reason: 'claims_unavailable', record };
      groups = [...(side?.groups ?? groups)];
      if (record.rf === 1) {
        refresh = side?.refresh;
        // Without its refresh state the session's ID token cannot be known to be valid: it ended.
        if (!refresh) return { ok: false, reason: 'expired', record };
        // The ID token has expired: only a refresh (the gate's) lets this session go on.
        if (now >= refresh.exp) return { ok: false, reason: 'expired', record, refresh };
      }
    }
    const identity = refresh || record.gs === 1 ? identityOf(record, groups, refresh?.user) : recordIdentity(record);
    const extra = refresh ? { refresh } : {};
    if (now - record.ls < SESSION_TOUCH_INTERVAL_SECONDS) return { ok: true, identity, record, ...extra };
    // This session was re-sealed moments ago: the browser has that cookie, or is replaying an old one.
    // Either way another seal would only mint one more valid cookie (and one more unseal-cache entry).
    const touchedAt = this.#touched.get(record.sid, now);
    if (touchedAt !== undefined && now - touchedAt < SESSION_TOUCH_INTERVAL_SECONDS)
      return { ok: true, identity, record: { ...record, ls: touchedAt }, ...extra };
    // Idle timeout is measured from the last request: re-seal the cookie with a fresh last-seen time.
    const touched = { ...record, ls: now };
    const refreshCookie = await this.#cookieFor(touched, settings, now);
    this.#touched.set(record.sid, now, Math.min(record.exp, now + settings.idleTimeout), now);
    return { ok: true, identity, record: touched, refreshCookie, ...extra };
  }

  /**
   * Whether a session read earlier (an upgraded connection's, admitted with
   * `identity`) still holds: not expired, not revoked, and not idle — measured
   * from its last request, which is the last time its cookie was re-sealed, at
   * most one touch interval old. A refreshable session's check carries its
   * refresh state, for the refresher to settle as the gate does.
   */
  async recheck(record: SessionRecord, app: AppConfig, identity: Identity): Promise<SessionCheck> {
    const now = nowSeconds(this.#options.clock);
    if (now >= record.exp) return { ok: false, reason: 'expired', record };
    const lastActivity = Math.max(record.ls, this.#touched.get(record.sid, now) ?? 0);
    if (now - lastActivity > this.settingsFor(app).idleTimeout) return { ok: false, reason: 'idle', record };
    if (await this.#isRevoked(record, now)) return { ok: false, reason: 'revoked', record };
    if (record.rf !== 1) return { ok: true, identity, record };
    const refresh = (await this.#options.store.getSideData(record.sid, now))?.refresh;
    if (!refresh) return { ok: false, reason: 'expired', record };
    // The ID token has expired: only a refresh lets the session go on.
    if (now >= refresh.exp) return { ok: false, reason: 'expired', record, refresh };
    return { ok: true, identity: refresh.user ? identityOf(record, identity.groups, refresh.user) : identity, record, refresh };
  }

  /** Sizes of the in-memory caches, for tests and metrics. */
  stats(): { readonly unsealCache: number; readonly recentlyTouched: number } {
    return { unsealCache: this.#unsealed.size, recentlyTouched: this.#touched.size };
  }

  /**
   * Turns a verified sign-in into a sealed session cookie. Throws
   * ERR_COOKIE_TOO_LARGE rather than send one a browser would drop, and
   * ERR_SESSION_STORE_FULL when its group list must be kept server side and
   * the store has no room.
   */
  async issue(app: AppConfig, user: SignedInUser, options: { persistentAllowed?: boolean } = {}): Promise<IssuedSession> {
    const settings = this.settingsFor(app);
    const claims = keptClaims(app, user.claims);
    const now = nowSeconds(this.#options.clock);
    const emailVerified = user.email !== undefined && (user.emailVerified ?? user.claims?.['email_verified'] === true);
    const cap = now + settings.maxLifetime;
    const idTokenExp = Math.min(user.idTokenExpiresAt, cap);
    // A refreshable session lives until its cap; its ID token's expiry is kept (and moved on by refreshes) in the store.
    const refreshable = this.#refresher !== undefined && user.refreshToken !== undefined && user.refreshToken !== '';
    const exp = refreshable ? cap : idTokenExp;
    if (idTokenExp <= now) throw new GatehouseError('ERR_ID_TOKEN_EXPIRED', 'session_would_start_expired');
    const record: SessionRecord = {
      v: 1,
      k: 'session',
      sid: randomBytes(18).toString('base64url'),
      app: app.id,
      sub: user.sub,
      ...(user.name !== undefined ? { name: user.name } : {}),
      ...(user.email !== undefined ? { email: user.email } : {}),
      ...(emailVerified ? { ev: 1 as const } : {}),
      ...(user.groups.length > 0 ? { groups: [...user.groups] } : {}),
      ...(user.amr.length > 0 ? { amr: [...user.amr] } : {}),
      ...(user.acr !== undefined ? { acr: user.acr } : {}),
      ...(user.authTime !== undefined ? { at: user.authTime } : {}),
      iat: now,
      exp,
      ls: now,
      ...(user.idpSessionId !== undefined && user.idpSessionId !== '' ? { is: idpSessionTag(user.idpSessionId) } : {}),
      ...(settings.persistent && options.persistentAllowed !== false ? { p: 1 as const } : {}),
      ...(claims ? { c: claims } : {}),
      ...(refreshable ? { rf: 1 as const } : {}),
    };
    // A record the gate would later refuse to read must not be issued: that would be a sign-in loop.
    if (!sessionRecordSchema.safeParse(record).success) {
      throw new GatehouseError('ERR_COOKIE_TOO_LARGE', 'claims_out_of_bounds');
    }
    let setCookie = await this.#cookieFor(record, settings, now);
    let final = record;
    if (setCookie.length > MAX_SET_COOKIE_BYTES && record.groups) {
      // Long group lists go server side, keyed by the session id.
      const { groups: _groups, ...rest } = record;
      final = { ...rest, gs: 1 };
      setCookie = await this.#cookieFor(final, settings, now);
    }
    if (setCookie.length > MAX_SET_COOKIE_BYTES) {
      throw new GatehouseError('ERR_COOKIE_TOO_LARGE', `set_cookie_bytes_${setCookie.length}`);
    }
    const groupsServerSide = final.gs === 1;
    const refresh: RefreshState | undefined = refreshable
      ? {
          token: await sealRefreshToken(user.refreshToken ?? '', this.#options.keys.refresh, exp - now),
          iat: typeof user.claims?.['iat'] === 'number' ? user.claims['iat'] : now,
          exp: idTokenExp,
          gen: 0,
        }
      : undefined;
    const stored = await this.#options.store.putSideData(
      final.sid,
      { idToken: user.idToken, ...(groupsServerSide ? { groups: [...user.groups] } : {}), ...(refresh ? { refresh } : {}) },
      exp,
      now,
    );
    // The gate cannot read this session without its groups or refresh state: refuse it, rather than make room by signing someone else out.
    if (!stored && (groupsServerSide || refresh)) throw new GatehouseError('ERR_SESSION_STORE_FULL', 'session_store_full');
    this.#options.observer?.issued(app.id);
    // Without its ID token the session still works; only its logout goes to the provider without id_token_hint.
    return { setCookie, record: final, idTokenKept: stored };
  }

  async revoke(record: SessionRecord): Promise<void> {
    const now = nowSeconds(this.#options.clock);
    await this.#options.store.revoke(record.sid, record.iat, record.exp, now);
    this.#options.observer?.revoked(record.app);
  }

  /**
   * Ends every session tied to the identity provider's session, or (with
   * only `sub`) every session of that user signed in until now, on every
   * instance sharing the store. Resolves with the revocation key (for
   * closing the sessions' upgraded connections).
   */
  revokeIdpSession(logout: IdpLogout): Promise<string> {
    return revokeIdpGroup(this.#options.store, logout, nowSeconds(this.#options.clock), this.#options.defaults.maxLifetime);
  }

  #isRevoked(record: SessionRecord, now: number): Promise<boolean> {
    return isSessionRevoked(this.#options.store, record, now);
  }

  async idTokenOf(record: SessionRecord): Promise<string | undefined> {
    return (await this.#options.store.getSideData(record.sid, nowSeconds(this.#options.clock)))?.idToken;
  }

  clearCookie(app: AppConfig): string {
    const settings = this.settingsFor(app);
    return expireCookie(settings.cookieName, { secure: settings.secure, path: '/' });
  }

  async #cookieFor(record: SessionRecord, settings: ReturnType<SessionManager['settingsFor']>, now: number): Promise<string> {
    const remaining = Math.max(1, record.exp - now);
    const value = await seal(record, this.#options.keys.session, remaining);
    return serializeCookie(settings.cookieName, value, {
      secure: settings.secure,
      path: '/',
      maxAge: record.p === 1 ? remaining : undefined,
    });
  }
}
