import type { ClaimMatch } from '../types.ts';
import type { CriterionResult } from './result.ts';

type Claims = Readonly<Record<string, unknown>>;

/**
 * One claim match: `equals` is strict (`"1"` is not `1`); `contains` holds for
 * an array with that exact string, or a space-separated string (like `scope`)
 * with that token; `in` holds when the claim is a string, number or boolean
 * strictly equal to one of the values. A claim name is a top-level key of the
 * ID token, read as an own property (never `constructor` or `__proto__`).
 */
export function claimHolds(match: ClaimMatch, claims: Claims): boolean {
  if (!Object.hasOwn(claims, match.claim)) return false;
  const value = claims[match.claim];
  if ('equals' in match) return value === match.equals;
  if ('contains' in match) {
    if (match.contains === '') return false;
    if (Array.isArray(value)) return value.includes(match.contains);
    return typeof value === 'string' && value.split(' ').includes(match.contains);
  }
  return (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') && match.in.includes(value);
}

/** Every listed claim match holds; the reason names the first that does not. */
export function matchClaims(matches: readonly ClaimMatch[], claims: Claims): CriterionResult {
  const failing = matches.find((match) => !claimHolds(match, claims));
  if (failing !== undefined) return { ok: false, reason: `claims:${failing.claim}` };
  return { ok: true, reason: `claims:${matches.map((match) => match.claim).join(',')}` };
}
