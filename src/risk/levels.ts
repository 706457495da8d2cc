import { RISK_LEVELS, type RiskLevel } from '../policy/types.ts';

/** `none` < `low` < `medium` < `high`. */
export function riskRank(level: RiskLevel): number {
  return RISK_LEVELS.indexOf(level);
}

export function maxRiskLevel(a: RiskLevel, b: RiskLevel): RiskLevel {
  return riskRank(a) >= riskRank(b) ? a : b;
}

export function isRiskLevel(value: unknown): value is RiskLevel {
  return typeof value === 'string' && (RISK_LEVELS as readonly string[]).includes(value);
}

/** The level two thresholds give a count: `high` at or above the second, `medium` at or above the first. */
export function levelForCount(count: number, thresholds: { readonly medium: number; readonly high: number }): RiskLevel {
  if (count >= thresholds.high) return 'high';
  if (count >= thresholds.medium) return 'medium';
  return 'none';
}
