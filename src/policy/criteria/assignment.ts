import type { AccessFacts, IncludeExclude } from '../types.ts';
import type { CriterionResult } from './result.ts';
import { findGroup } from './groups.ts';
import { findUser } from './users.ts';

/**
 * Who a policy is for. In scope when `users.include` or `groups.include`
 * names the user (everyone when neither include is given); out of scope when
 * `users.exclude` or `groups.exclude` does — exclude always wins.
 */
export function matchAssignment(users: IncludeExclude | undefined, groups: IncludeExclude | undefined, user: AccessFacts['user']): CriterionResult {
  const excludedUser = findUser(users?.exclude, user, 'exclude');
  if (excludedUser !== undefined) return { ok: false, reason: `users.exclude:${excludedUser}` };
  const excludedGroup = findGroup(groups?.exclude, user);
  if (excludedGroup !== undefined) return { ok: false, reason: `groups.exclude:${excludedGroup}` };
  if (users?.include === undefined && groups?.include === undefined) return { ok: true, reason: 'users:*' };
  const includedUser = findUser(users?.include, user, 'include');
  if (includedUser !== undefined) return { ok: true, reason: `users:${includedUser}` };
  const includedGroup = findGroup(groups?.include, user);
  if (includedGroup !== undefined) return { ok: true, reason: `groups:${includedGroup}` };
  return { ok: false, reason: 'users:not_included' };
}
