/**
 * A claim by its name (`roles`, `https://example.com/roles`), else by a dotted path into object claims
 * (`realm_access.roles`). The whole name wins: namespaced claims contain dots, and a provider's `a.b` key is
 * what an operator who wrote `a.b` means. Only own keys are followed, so `constructor` or `__proto__` read nothing.
 */
export function claimAt(claims: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let current: unknown = claims;
  for (const part of name.split('.')) {
    if (typeof current !== 'object' || current === null || Array.isArray(current) || !Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/**
 * The groups a token lists at `claim`: an array of strings (other items dropped), or one string as one group (a
 * group name may hold spaces, so it is never split); anything else, none.
 */
export function groupsAt(claims: Readonly<Record<string, unknown>>, claim: string): string[] {
  const value = claimAt(claims, claim);
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string' && item.length > 0 && item.length <= 1024);
  if (typeof value === 'string' && value.length > 0 && value.length <= 1024) return [value];
  return [];
}
