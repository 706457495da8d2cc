import type { PolicySessionControls } from './types.ts';
import type { CriterionResult } from './criteria/result.ts';

export interface SessionControlResult extends CriterionResult {
  /** The sign-in frequency this policy imposes, seconds. */
  readonly signInFrequency?: number;
  readonly persistentAllowed: boolean;
}

/**
 * Session controls of an applied policy. Sign-in frequency: the
 * authentication is too old when `now - authTime > signInFrequency`; an
 * unknown (the ID token had no auth_time) or non-numeric time counts as too
 * old: the check fails closed. Persistent browser: `never`
 * forbids a persistent session cookie.
 */
export function checkSessionControls(session: PolicySessionControls | undefined, authTime: number | undefined, now: number): SessionControlResult {
  const persistentAllowed = session?.persistentBrowser !== 'never';
  const frequency = session?.signInFrequency;
  if (frequency === undefined) return { ok: true, reason: 'session', persistentAllowed };
  const fresh = authTime !== undefined && Number.isFinite(authTime) && Number.isFinite(now) && now - authTime <= frequency;
  return { ok: fresh, reason: fresh ? 'session' : 'session.sign_in_frequency', signInFrequency: frequency, persistentAllowed };
}
