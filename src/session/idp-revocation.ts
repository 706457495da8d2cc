import { IDP_LOGOUT_REVOCATION_SECONDS } from '../limits.ts';
import { idpSessionRevocationKey, idpSessionTag, idpUserRevocationKey } from './idp-session.ts';
import type { SessionRecord } from './session-record.ts';
import type { SessionStore } from './session-store.ts';

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
 * Whether the session, its provider session or its user was revoked. The
 * user's entry is one more lookup per request: in memory for the memory and
 * Redis stores (Redis keeps a copy of every revocation on each instance),
 * one indexed read for SQLite.
 */
export async function isSessionRevoked(store: SessionStore, record: SessionRecord, now: number): Promise<boolean> {
  if (await store.isRevoked(record.sid, record.iat, now)) return true;
  const keys = groupKeysOf(record);
  if (keys.idpSession !== undefined && (await store.isRevoked(keys.idpSession, record.iat, now))) return true;
  return store.isRevoked(keys.user, record.iat, now);
}

interface GroupKeys {
  readonly idpSession: string | undefined;
  readonly user: string;
}

/**
 * A record read from the unseal cache is the same frozen object on every request: its keys (a SHA-256 of the `sub`)
 * are made once. Only frozen records are remembered, so a key never outlives a change to what it was made from.
 */
const groupKeys = new WeakMap<SessionRecord, GroupKeys>();

function groupKeysOf(record: SessionRecord): GroupKeys {
  const known = groupKeys.get(record);
  if (known !== undefined) return known;
  const keys = { idpSession: record.is === undefined ? undefined : idpSessionRevocationKey(record.is), user: idpUserRevocationKey(idpSessionTag(record.sub)) };
  if (Object.isFrozen(record)) groupKeys.set(record, keys);
  return keys;
}
