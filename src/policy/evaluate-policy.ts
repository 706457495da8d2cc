import type { CompiledPolicy } from './compile.ts';
import { matchAssignment } from './criteria/assignment.ts';
import { matchClaims } from './criteria/claims.ts';
import { matchClientApp } from './criteria/client-app.ts';
import { matchKind } from './criteria/kind.ts';
import { matchLocation } from './criteria/location.ts';
import { matchPaths } from './criteria/paths.ts';
import type { CriterionResult } from './criteria/result.ts';
import { matchRisk } from './criteria/risk.ts';
import { checkBlock } from './grants/block.ts';
import { checkClaims } from './grants/claims.ts';
import { checkMfa } from './grants/mfa.ts';
import type { ControlResult } from './grants/result.ts';
import type { IpAddress } from '../ip/address.ts';
import { checkSessionControls } from './session-controls.ts';
import type { AccessFacts, MfaSettings, PolicyOutcome, Remedy } from './types.ts';

/** The facts of one request, with what every policy would re-derive parsed once. */
export interface RequestView {
  readonly facts: AccessFacts;
  readonly ip: IpAddress | undefined;
  readonly pathForms: readonly string[] | undefined;
}

export interface PolicyEvaluation {
  readonly outcome: PolicyOutcome;
  /** For a failing outcome that a fresh sign-in can fix: whether it must bring MFA. Absent when nothing but an admin can fix it. */
  readonly fix?: { readonly mfa: boolean };
  /** Set when the policy applied and imposes a sign-in frequency. */
  readonly signInFrequency?: number;
  readonly persistentAllowed: boolean;
}

/** One policy against one request: does it apply, and if so is it satisfied, and why. */
export function evaluatePolicy(compiled: CompiledPolicy, view: RequestView, mfa: MfaSettings): PolicyEvaluation {
  const { policy } = compiled;
  const { user } = view.facts;
  const base = { policy: policy.name, state: policy.state };

  const conditions = checkConditions(compiled, view);
  const matched = conditions.filter((result) => result.ok).map((result) => result.reason);
  const unmet = conditions.find((result) => !result.ok);
  if (unmet !== undefined) {
    return { outcome: { ...base, applied: false, satisfied: true, reason: `condition.${unmet.reason}`, matched }, persistentAllowed: true };
  }

  const controls: ControlResult[] = [];
  if (policy.grant.block === true) controls.push(checkBlock());
  if (policy.grant.mfa === true) controls.push(checkMfa(user, mfa));
  if (policy.grant.claims !== undefined) controls.push(checkClaims(policy.grant.claims, user.claims));
  const combine = (results: readonly { readonly ok: boolean }[]): boolean =>
    results.length === 0 || (policy.grant.operator === 'one' ? results.some((result) => result.ok) : results.every((result) => result.ok));
  const grantOk = combine(controls);
  // Would a sign-in with MFA satisfy the grant? Then MFA is all that is missing.
  const grantOkWithMfa = combine(controls.map((result) => (result.control === 'mfa' ? { ok: true } : result)));
  const session = checkSessionControls(policy.session, user.authTime, view.facts.now);
  const common = {
    ...(session.signInFrequency !== undefined && { signInFrequency: session.signInFrequency }),
    persistentAllowed: session.persistentAllowed,
  };
  if (grantOk && session.ok) {
    return { outcome: { ...base, applied: true, satisfied: true, reason: 'grant.satisfied', matched }, ...common };
  }

  const failures = [...controls.filter((result) => !result.ok).map((result) => result.reason), ...(session.ok ? [] : [session.reason])];
  let reason: string;
  let remedy: Remedy;
  if (grantOkWithMfa) {
    reason = grantOk ? session.reason : 'grant.mfa_missing';
    remedy = grantOk ? 'sign-in-again' : 'sign-in-with-mfa';
  } else {
    const decisive = controls.find((result) => !result.ok && result.control !== 'mfa') ?? checkBlock();
    reason = decisive.reason;
    remedy = decisive.control === 'block' && escapesByLocation(compiled) ? 'use-corporate-network' : 'contact-admin';
  }
  const outcome: PolicyOutcome = {
    ...base,
    applied: true,
    satisfied: false,
    reason,
    reasons: [reason, ...failures.filter((failure) => failure !== reason)],
    matched,
    remedy,
  };
  return { outcome, ...(grantOkWithMfa && { fix: { mfa: !grantOk } }), ...common };
}

/** Every condition the policy names, users and groups always (absent means everyone). */
function checkConditions(compiled: CompiledPolicy, view: RequestView): CriterionResult[] {
  const { conditions } = compiled.policy;
  const { facts } = view;
  const results = [matchAssignment(conditions.users, conditions.groups, facts.user)];
  if (compiled.locations !== undefined) results.push(matchLocation(compiled.locations, view.ip));
  if (conditions.clientApps !== undefined) results.push(matchClientApp(conditions.clientApps, facts.clientApp));
  if (conditions.kinds !== undefined) results.push(matchKind(conditions.kinds, facts.user.kind ?? 'user'));
  if (conditions.signInRisk !== undefined) results.push(matchRisk('signInRisk', conditions.signInRisk, facts.signInRisk));
  if (conditions.userRisk !== undefined) results.push(matchRisk('userRisk', conditions.userRisk, facts.userRisk));
  if (conditions.claims !== undefined) results.push(matchClaims(conditions.claims, facts.user.claims));
  if (compiled.paths !== undefined) results.push(matchPaths(compiled.paths, view.pathForms));
  return results;
}

/** A block that would not apply from an excluded (trusted) location: the user can move there. */
function escapesByLocation(compiled: CompiledPolicy): boolean {
  return compiled.locations?.exclude.some((ref) => !ref.any) ?? false;
}
