import { IDP_LOGOUT_REVOCATION_SECONDS } from '../limits.ts';
import { idpSessionRevocationKey, idpSessionTag, idpUserRevocationKey } from './idp-session.ts';
import type { SessionRecord } from './session-record.ts';
import { anyRevoked, type SessionStore } from './session-store.ts';

/** What a back-channel logout names: the provider's session, or (without one) its user. */
export type IdpLogout = { readonly sid: string } | { readonly sub: string };

/**
 * Writes the one revocation entry a back-channel logout needs and resolves
 * with its key. Both kinds travel between instances exactly as a single
 * session's revocation does; the user's entry holds `now`, so sessions
 * signed in afterwards are not ended by it.
 */
export async function revokeIdpGroup(store: SessionStore, logout: IdpLogout, now: number, maxLifetime: number): Promise<string> {
  const key = 'sid' in logout ? idpSessionRevocationKey(idpSessionTag(logout.sid)) : idpUserRevocationKey(idpSessionTag(logout.sub));
  // Outlives every session it can name: none lives longer than the longest lifetime, the default's or this bound.
  const until = now + Math.max(IDP_LOGOUT_REVOCATION_SECONDS, maxLifetime);
  await store.revoke(key, now, until, now);
  return key;
}

/**
 * Whether the session, its provider session or its user was revoked, asked
 * on every request: in memory for the memory and Redis stores (Redis keeps a
 * copy of every revocation on each instance), one statement for SQLite.
 */
export function isSessionRevoked(store: SessionStore, record: SessionRecord, now: number): Promise<boolean> {
  const keys = revocationKeysOf(record);
  return store.isAnyRevoked ? store.isAnyRevoked(keys, record.iat, now) : anyRevoked(store, keys, record.iat, now);
}

/**
 * A record read from the unseal cache is the same frozen object on every request: its keys (a SHA-256 of the `sub`)
 * are made once. Only frozen records are remembered, so a key never outlives a change to what it was made from.
 */
const revocationKeys = new WeakMap<SessionRecord, readonly string[]>();

/** The session's own key, its provider session's (when it has one) and its user's, in the order they are checked. */
function revocationKeysOf(record: SessionRecord): readonly string[] {
  const known = revocationKeys.get(record);
  if (known !== undefined) return known;
  const user = idpUserRevocationKey(idpSessionTag(record.sub));
  const keys = Object.freeze(record.is === undefined ? [record.sid, user] : [record.sid, idpSessionRevocationKey(record.is), user]);
  if (Object.isFrozen(record)) revocationKeys.set(record, keys);
  return keys;
}
