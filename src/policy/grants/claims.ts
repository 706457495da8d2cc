import { claimHolds } from '../criteria/claims.ts';
import type { ClaimMatch } from '../types.ts';
import type { ControlResult } from './result.ts';

/** Require claims: every listed match holds (same rules as the claims condition); the reason names the first that does not. */
export function checkClaims(matches: readonly ClaimMatch[], claims: Readonly<Record<string, unknown>>): ControlResult {
  const failing = matches.find((match) => !claimHolds(match, claims));
  if (failing !== undefined) return { control: 'claims', ok: false, reason: `grant.claims:${failing.claim}` };
  return { control: 'claims', ok: true, reason: 'grant.claims' };
}
