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

/** Whether a revoked id names a group of sessions rather than one. */
export function isGroupRevocationKey(key: string): boolean {
  return key.includes('.');
}
