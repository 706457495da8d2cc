import type { AccessFacts } from '../types.ts';

type User = AccessFacts['user'];

/**
 * The entry of a users list that names this user: `*`, the `sub` (exact), or
 * the email (case-insensitive). For an exclude list an email the identity
 * provider itself marks unverified (`email_verified: false`) does not count:
 * whoever can set their own email must not be able to borrow an excluded
 * (break-glass) account's exemption. Including by email needs no such care,
 * since inclusion only adds requirements.
 */
export function findUser(entries: readonly string[] | undefined, user: User, purpose: 'include' | 'exclude'): string | undefined {
  if (entries === undefined) return undefined;
  const email = typeof user.email === 'string' && user.email.length > 0 ? user.email.toLowerCase() : undefined;
  const emailCounts = email !== undefined && (purpose === 'include' || user.claims['email_verified'] !== false);
  return entries.find((entry) => entry === '*' || entry === user.sub || (emailCounts && entry.includes('@') && entry.toLowerCase() === email));
}
