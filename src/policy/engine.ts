import { GatehouseConfigError } from '../errors/index.ts';
import { compilePolicy } from './compile.ts';
import type { CompiledPolicy } from './compile.ts';
import { evaluatePolicy } from './evaluate-policy.ts';
import type { RequestView } from './evaluate-policy.ts';
import { parseIp } from '../ip/address.ts';
import { compileNamedLocations } from './locations.ts';
import { requestPathForms } from './request-path.ts';
import type { AccessDecision, AccessFacts, MfaSettings, Policy, PolicyOutcome, StepUpRequest } from './types.ts';

/**
 * The conditional-access engine: facts in, a decision with reasons out.
 * Options are validated and compiled once, here; `evaluate`
 * is pure and synchronous.
 *
 * Semantics:
 * - `off` policies are skipped. A policy applies when every condition it
 *   names matches; an absent condition matches. Users and groups: in scope
 *   when `users.include` or `groups.include` names the user (`*` everyone;
 *   no include at all means everyone), out of scope when `users.exclude` or
 *   `groups.exclude` does — exclude wins.
 * - An applied policy's grant: `block` never holds; `mfa` holds when `amr`
 *   has a configured value or `acr` is a configured value; `claims` holds
 *   when every match does. `operator: 'all'` (default) needs every control,
 *   `'one'` any one. Session controls: an authentication older than
 *   `signInFrequency` fails; `persistentBrowser: 'never'` clears
 *   `persistentAllowed`.
 * - Only `on` policies are enforced; `report-only` outcomes are reported
 *   and never change the decision. Any enforced failure that no sign-in can
 *   fix (block, claims) → `deny`; otherwise any enforced failure (MFA
 *   missing, authentication too old) → `step-up`; otherwise `allow`.
 */

export interface PolicyEngineOptions {
  readonly policies: readonly Policy[];
  /** Name → IPv4/IPv6 CIDR ranges (a bare address is one host). */
  readonly namedLocations: Readonly<Record<string, readonly string[]>>;
  readonly mfa: MfaSettings;
}

export interface PolicyEngine {
  evaluate(facts: AccessFacts): AccessDecision;
}

/** Throws a `GatehouseConfigError` (a TypeError, `ERR_INVALID_CONFIG`) listing every bad policy and location. */
export function createPolicyEngine(options: PolicyEngineOptions): PolicyEngine {
  // A private copy: later changes to the caller's objects cannot desynchronize the compiled locations.
  const { policies, namedLocations, mfa } = structuredClone(options);
  const issues: string[] = [];
  if (!isList(policies)) issues.push('policies: must be an array');
  if (typeof namedLocations !== 'object' || namedLocations === null) issues.push('namedLocations: must be an object of name → CIDR ranges');
  if (!isList(mfa?.amr) || !isList(mfa?.acr)) issues.push('mfa: must give "amr" and "acr" arrays');
  if (issues.length > 0) throw new GatehouseConfigError(issues);

  const named = compileNamedLocations(namedLocations, issues);
  const seen = new Set<string>();
  const compiled = policies.map((policy, index) => {
    if (seen.has(policy.name)) issues.push(`policies[${index}] (${JSON.stringify(policy.name)}).name: duplicate policy name`);
    seen.add(policy.name);
    return compilePolicy(policy, index, named, mfa, issues);
  });
  if (issues.length > 0) throw new GatehouseConfigError(issues);

  const active = compiled.filter((entry) => entry.policy.state !== 'off');
  return { evaluate: (facts) => decide(active, facts, mfa) };
}

// Array.isArray would narrow a readonly array to any[].
function isList(value: unknown): boolean {
  return Array.isArray(value);
}

function decide(policies: readonly CompiledPolicy[], facts: AccessFacts, mfa: MfaSettings): AccessDecision {
  const view: RequestView = { facts, ip: parseIp(String(facts.clientIp)), pathForms: requestPathForms(String(facts.path)) };
  const outcomes: PolicyOutcome[] = [];
  const failed: PolicyOutcome[] = [];
  let unfixable = false;
  let needsMfa = false;
  let persistentAllowed = true;
  let smallestFrequency = Number.POSITIVE_INFINITY;
  for (const policy of policies) {
    const evaluation = evaluatePolicy(policy, view, mfa);
    outcomes.push(evaluation.outcome);
    // Report-only: evaluated and reported above, never enforced below.
    if (policy.policy.state !== 'on' || !evaluation.outcome.applied) continue;
    persistentAllowed &&= evaluation.persistentAllowed;
    smallestFrequency = Math.min(smallestFrequency, evaluation.signInFrequency ?? Number.POSITIVE_INFINITY);
    if (evaluation.outcome.satisfied) continue;
    failed.push(evaluation.outcome);
    if (evaluation.fix === undefined) unfixable = true;
    else needsMfa ||= evaluation.fix.mfa;
  }
  if (failed.length === 0) return { effect: 'allow', failed, outcomes, persistentAllowed };
  if (unfixable) return { effect: 'deny', failed, outcomes, persistentAllowed };
  return { effect: 'step-up', failed, outcomes, stepUp: stepUpRequest(needsMfa, smallestFrequency, mfa), persistentAllowed };
}

/** MFA: authenticate now with the configured `acr_values`. Frequency only: no older than the smallest frequency that applies. Both: prompt for a fresh login. */
function stepUpRequest(needsMfa: boolean, smallestFrequency: number, mfa: MfaSettings): StepUpRequest {
  if (needsMfa) {
    const acrValues = mfa.acrValues ?? [];
    return { ...(acrValues.length > 0 && { acrValues }), maxAge: 0, prompt: 'login', reason: 'mfa' };
  }
  return { maxAge: Number.isFinite(smallestFrequency) ? smallestFrequency : 0, prompt: 'login', reason: 'sign_in_frequency' };
}
