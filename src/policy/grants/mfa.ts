import type { AccessFacts, MfaSettings } from '../types.ts';
import type { ControlResult } from './result.ts';

/** Multi-factor: `amr` holds one of the configured values, or `acr` is one of the configured values. */
export function checkMfa(user: AccessFacts['user'], settings: MfaSettings): ControlResult {
  const amr = Array.isArray(user.amr) ? user.amr : [];
  const ok = settings.amr.some((value) => amr.includes(value)) || (typeof user.acr === 'string' && settings.acr.includes(user.acr));
  return { control: 'mfa', ok, reason: ok ? 'grant.mfa' : 'grant.mfa_missing' };
}
