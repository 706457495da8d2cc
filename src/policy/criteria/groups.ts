import type { AccessFacts } from '../types.ts';

/** The entry of a groups list the user is in: `*`, or a group name or ID compared exactly. */
export function findGroup(entries: readonly string[] | undefined, user: AccessFacts['user']): string | undefined {
  if (entries === undefined) return undefined;
  return entries.find((entry) => entry === '*' || user.groups.includes(entry));
}
