import type { z } from 'zod';
import { GatehouseConfigError } from '../errors/index.ts';
import { riskSettingsSchema, type RiskSettings } from './settings.ts';

/** Validates the `risk:` settings once and freezes them; a mistake throws naming the key, e.g. `risk.failedSignIns.window`. */
export function parseRiskSettings(input: unknown = {}): RiskSettings {
  const result = riskSettingsSchema.safeParse(input ?? {});
  if (!result.success) throw new GatehouseConfigError(result.error.issues.map((issue) => `${issuePath(issue)}: ${issue.message}`));
  return deepFreeze(result.data);
}

function issuePath(issue: z.core.$ZodIssue): string {
  return ['risk', ...issue.path.map(String)].join('.');
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
