import type { IdentityKind } from '../types.ts';
import type { CriterionResult } from './result.ts';

/** The caller is a person (`user`, signed in or with their access token) or a program with its own token (`service`). */
export function matchKind(allowed: readonly IdentityKind[], kind: IdentityKind): CriterionResult {
  return { ok: allowed.includes(kind), reason: `kind:${kind}` };
}
