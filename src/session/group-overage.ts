/**
 * Group overage: a provider that would put too many groups in a token leaves
 * `groups` out and says so instead, with a distributed-claims reference
 * (`_claim_names.groups` / `_claim_sources`, OpenID Connect Core 5.6.2, as
 * Microsoft Entra ID does past 200 groups) or `hasgroups: true` (Entra's
 * implicit-flow form). Read as "no groups", that would quietly turn a member
 * of many groups into a member of none: policies that allow by group would
 * deny, and worse, policies that deny by group would allow.
 */

/** Whether the claims say the groups were left out for being too many. */
export function hasGroupOverage(claims: Readonly<Record<string, unknown>>): boolean {
  if (claims['hasgroups'] === true) return true;
  const names = claims['_claim_names'];
  return typeof names === 'object' && names !== null && !Array.isArray(names) && Object.hasOwn(names, 'groups');
}
