import type { IpAddress } from '../../ip/address.ts';
import { locationContains } from '../locations.ts';
import type { LocationRef } from '../locations.ts';
import type { CriterionResult } from './result.ts';

/** A location condition with its entries resolved at construction. */
export interface CompiledLocationCondition {
  /** Absent: every location. */
  readonly include?: readonly LocationRef[];
  readonly exclude: readonly LocationRef[];
}

/**
 * Include: the client address is in one of the locations. Exclude: it is in
 * none of them, and exclude wins. A client whose address is unknown or
 * unparseable counts as inside every included location and outside every
 * excluded one (except `any`): policies only ever add requirements, so
 * applying one in doubt is the safe side.
 */
export function matchLocation(condition: CompiledLocationCondition, ip: IpAddress | undefined): CriterionResult {
  const excluded = condition.exclude.find((ref) => locationContains(ref, ip));
  if (excluded !== undefined) return { ok: false, reason: `location.exclude:${excluded.label}` };
  if (ip === undefined) return { ok: true, reason: 'location:unknown' };
  if (condition.include !== undefined && !condition.include.some((ref) => ref.any)) {
    const included = condition.include.find((ref) => locationContains(ref, ip));
    if (included === undefined) return { ok: false, reason: 'location:not_included' };
    return { ok: true, reason: `location:${included.label}` };
  }
  if (condition.exclude.length > 0) return { ok: true, reason: `location:outside:${condition.exclude.map((ref) => ref.label).join(',')}` };
  return { ok: true, reason: 'location:any' };
}
