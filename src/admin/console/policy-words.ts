/**
 * A policy in plain words, for the apps page: to whom it applies and what it asks. The
 * grant's wording is the one users read when the policy stops them (explain()).
 */
import type { IncludeExclude, Policy } from '../../policy/types.ts';

function list(values: readonly string[]): string {
  return values.map((value) => (value === '*' ? 'everyone' : value)).join(', ');
}

function scope(noun: string, rule: IncludeExclude | undefined): string[] {
  if (!rule) return [];
  return [
    ...(rule.include && rule.include.length > 0 ? [rule.include.includes('*') ? 'everyone' : `${noun} ${list(rule.include)}`] : []),
    ...(rule.exclude && rule.exclude.length > 0 ? [`except ${noun} ${list(rule.exclude)}`] : []),
  ];
}

export function whoItAppliesTo(policy: Policy): string {
  const { conditions } = policy;
  const parts = [
    ...scope('users', conditions.users),
    ...scope('members of', conditions.groups),
    ...scope('locations', conditions.locations),
    ...(conditions.paths ? [`on ${conditions.paths.join(', ')}`] : []),
    ...(conditions.clientApps ? [`from ${conditions.clientApps.join(' or ')} clients`] : []),
    ...(conditions.signInRisk ? [`when the sign-in risk is ${conditions.signInRisk.join(' or ')}`] : []),
    ...(conditions.userRisk ? [`when the user risk is ${conditions.userRisk.join(' or ')}`] : []),
    ...(conditions.claims ? [`when claims ${conditions.claims.map((claim) => claim.claim).join(', ')} match`] : []),
  ];
  return parts.length === 0 ? 'Everyone, on every path' : parts.join('; ');
}

export function whatItAsks(policy: Policy): string {
  const { grant, session } = policy;
  if (grant.block === true) return 'Blocks access. Users see: "Your account is not allowed to use this application."';
  const asks = [
    ...(grant.mfa === true ? ['multi-factor authentication ("This application requires multi-factor authentication")'] : []),
    ...(grant.claims
      ? [`the claims ${grant.claims.map((claim) => claim.claim).join(', ')} ("Your account lacks an attribute this application requires")`]
      : []),
    ...(session?.signInFrequency !== undefined
      ? [`a sign-in at most ${session.signInFrequency} s old ("This application requires a more recent sign-in")`]
      : []),
  ];
  const joined = asks.join(grant.operator === 'one' ? ' or ' : ' and ');
  const persistent = session?.persistentBrowser === 'never' ? ' No persistent session cookie.' : '';
  return `${asks.length === 0 ? 'Allows access.' : `Requires ${joined}.`}${persistent}`;
}

export function stateWords(policy: Policy): string {
  return policy.state === 'on' ? 'enforced' : policy.state === 'report-only' ? 'report-only (logged, never enforced)' : 'off';
}
