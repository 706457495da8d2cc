import type { AccessFacts } from '../types.ts';

type User = AccessFacts['user'];

/**
 * The entry of a users list that names this user: `*`, the `sub` (exact), or
 * the email (case-insensitive). For an exclude list the email counts only
 * when the identity provider vouched for it (`email_verified: true`):
 * whoever can set their own email must not be able to borrow an excluded
 * (break-glass) account's exemption, and a provider that says nothing about
 * verification vouches for nothing. Including by email needs no such care,
 * since inclusion only adds requirements: ignoring an unverified email there
 * would let its owner escape a policy meant for them.
 */
export function findUser(entries: readonly string[] | undefined, user: User, purpose: 'include' | 'exclude'): string | undefined {
  if (entries === undefined) return undefined;
  const email = typeof user.email === 'string' && user.email.length > 0 ? user.email.toLowerCase() : undefined;
  const emailCounts = email !== undefined && (purpose === 'include' || emailVerified(user));
  return entries.find((entry) => entry === '*' || entry === user.sub || (emailCounts && entry.includes('@') && entry.toLowerCase() === email));
}

function emailVerified(user: User): boolean {
  if (user.emailVerified !== undefined) return user.emailVerified;
  return user.claims['email_verified'] === true;
}
