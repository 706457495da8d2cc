import type { ControlResult } from './result.ts';

/** Block: never satisfied, and no sign-in can change that. */
export function checkBlock(): ControlResult {
  return { control: 'block', ok: false, reason: 'grant.block' };
}
