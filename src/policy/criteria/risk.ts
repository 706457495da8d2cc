import { RISK_LEVELS } from '../types.ts';
import type { RiskLevel } from '../types.ts';
import type { CriterionResult } from './result.ts';

/**
 * Sign-in or user risk is one of the listed levels. A level outside the four
 * known ones (a risk provider's bug) matches every risk condition: a policy
 * that blocks on risk must not be dodged by a misspelt level.
 */
export function matchRisk(kind: 'signInRisk' | 'userRisk', allowed: readonly RiskLevel[], level: RiskLevel): CriterionResult {
  if (!RISK_LEVELS.includes(level)) return { ok: true, reason: `${kind}:unknown` };
  return { ok: allowed.includes(level), reason: `${kind}:${level}` };
}
