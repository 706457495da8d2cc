import { createHash } from 'node:crypto';

/**
 * Sessions are tied to the identity provider's session (the ID token's
 * `sid`) by a short digest kept in the sealed cookie, so that a back-channel
 * logout naming that provider session can end every one of them. Ending them
 * is one revocation entry under a key that cannot be a session id (those are
 * base64url, without dots), so it travels to every instance exactly as a
 * single session's revocation does.
 */
export function idpSessionTag(idpSessionId: string): string {
  return createHash('sha256').update(idpSessionId).digest('base64url').slice(0, 32);
}

/** The revocation key that ends every session carrying `tag`. */
export function idpSessionRevocationKey(tag: string): string {
  return `idp-sid.${tag}`;
}

/**
 * The revocation key that ends every session of the provider's user whose
 * `sub` digests to `tag` (a logout naming the user but no provider session).
 * Its entry holds the logout's time: only sessions signed in at or before it
 * end, so the user can sign in again at once.
 */
export function idpUserRevocationKey(tag: string): string {
  return `idp-sub.${tag}`;
}

/**
 * Whether an entry under `key` ends only the sessions issued at or before
 * the time it holds; every other entry ends whatever it names.
 */
export function revokesIssuedBefore(key: string): boolean {
  return key.startsWith('idp-sub.');
}

/** Whether a revoked id names a group of sessions rather than one. */
export function isGroupRevocationKey(key: string): boolean {
  return key.includes('.');
}
