import type { CompiledLocationCondition } from './criteria/location.ts';
import type { PathPattern } from './criteria/paths.ts';
import { resolveLocation } from './locations.ts';
import type { LocationRef, NamedLocations } from './locations.ts';
import { canonicalPattern } from './request-path.ts';
import { RISK_LEVELS } from './types.ts';
import type { ClaimMatch, IncludeExclude, MfaSettings, Policy } from './types.ts';

/**
 * Validates one policy and compiles what a request would otherwise redo:
 * location entries resolved to BlockLists, path patterns canonicalized.
 * Strict and early (jose): a policy that could never mean what it says is
 * refused at construction, naming the policy and the field.
 */

export interface CompiledPolicy {
  readonly policy: Policy;
  readonly locations?: CompiledLocationCondition;
  readonly paths?: readonly PathPattern[];
}

const STATES: readonly string[] = ['on', 'off', 'report-only'];
const CLIENT_APPS: readonly string[] = ['browser', 'api'];
const KINDS: readonly string[] = ['user', 'service'];
const LEVELS: readonly string[] = RISK_LEVELS;

export function compilePolicy(policy: Policy, index: number, named: NamedLocations, mfa: MfaSettings, issues: string[]): CompiledPolicy {
  const where = `policies[${index}] (${JSON.stringify(policy.name)})`;
  const issue = (field: string, message: string) => issues.push(`${where}.${field}: ${message}`);
  if (typeof policy.name !== 'string' || policy.name.length === 0) issue('name', 'must be a non-empty string');
  if (!STATES.includes(policy.state)) issue('state', 'must be "on", "off" or "report-only"');

  const conditions = policy.conditions ?? {};
  checkIncludeExclude(conditions.users, 'conditions.users', issue);
  checkIncludeExclude(conditions.groups, 'conditions.groups', issue);
  checkIncludeExclude(conditions.locations, 'conditions.locations', issue);
  checkList(conditions.clientApps, 'conditions.clientApps', CLIENT_APPS, issue);
  checkList(conditions.kinds, 'conditions.kinds', KINDS, issue);
  checkList(conditions.signInRisk, 'conditions.signInRisk', LEVELS, issue);
  checkList(conditions.userRisk, 'conditions.userRisk', LEVELS, issue);
  checkClaims(conditions.claims, 'conditions.claims', issue);
  if (conditions.paths !== undefined) {
    if (conditions.paths.length === 0) issue('conditions.paths', 'is empty; omit it to mean every path');
    for (const path of conditions.paths) {
      if (typeof path !== 'string' || !/^\/[^\s?#]*$/.test(path))
        issue('conditions.paths', `${JSON.stringify(path)} must be a path such as "/admin/" (prefix) or "/export" (exact)`);
    }
  }

  const grant = policy.grant ?? {};
  const session = policy.session;
  if (grant.operator !== undefined && grant.operator !== 'all' && grant.operator !== 'one') issue('grant.operator', 'must be "all" or "one"');
  checkClaims(grant.claims, 'grant.claims', issue);
  const hasControl = grant.block === true || grant.mfa === true || grant.claims !== undefined;
  const hasSession = session?.signInFrequency !== undefined || session?.persistentBrowser !== undefined;
  if (!hasControl && !hasSession) issue('grant', 'name at least one control (block, mfa, claims) or a session control');
  if (grant.mfa === true && mfa.amr.length === 0 && mfa.acr.length === 0) {
    issue('grant.mfa', 'can never be satisfied: mfa.amr and mfa.acr are both empty');
  }
  if (session?.signInFrequency !== undefined && !(Number.isFinite(session.signInFrequency) && session.signInFrequency > 0)) {
    issue('session.signInFrequency', 'must be a positive number of seconds');
  }
  if (session?.persistentBrowser !== undefined && session.persistentBrowser !== 'allowed' && session.persistentBrowser !== 'never') {
    issue('session.persistentBrowser', 'must be "allowed" or "never"');
  }

  const locations = conditions.locations === undefined ? undefined : compileLocations(conditions.locations, named, `${where}.conditions.locations`, issues);
  const paths = conditions.paths?.map((path) => ({ label: path, pattern: canonicalPattern(String(path)) }));
  // Absent conditions or grant (possible from plain JavaScript callers) read as empty from here on.
  return { policy: { ...policy, conditions, grant }, ...(locations && { locations }), ...(paths && { paths }) };
}

function compileLocations(condition: IncludeExclude, named: NamedLocations, where: string, issues: string[]): CompiledLocationCondition {
  const resolve = (entries: readonly string[] | undefined, field: string): LocationRef[] | undefined =>
    entries?.flatMap((entry) => resolveLocation(entry, named, `${where}.${field}`, issues) ?? []);
  const include = resolve(condition.include, 'include');
  return { ...(include && { include }), exclude: resolve(condition.exclude, 'exclude') ?? [] };
}

type Issue = (field: string, message: string) => void;

function checkIncludeExclude(value: IncludeExclude | undefined, field: string, issue: Issue): void {
  if (value === undefined) return;
  if (value.include === undefined && value.exclude === undefined) issue(field, 'give "include", "exclude" or both');
  // An empty include would silently switch the policy off for everyone.
  if (value.include?.length === 0) issue(`${field}.include`, 'is empty; omit it to mean everyone, or write "*"');
  for (const key of ['include', 'exclude'] as const) {
    for (const entry of value[key] ?? []) {
      if (typeof entry !== 'string' || entry.length === 0) issue(`${field}.${key}`, 'entries must be non-empty strings');
    }
  }
}

function checkList(value: readonly string[] | undefined, field: string, allowed: readonly string[], issue: Issue): void {
  if (value === undefined) return;
  if (value.length === 0) issue(field, 'is empty; omit it to mean any');
  for (const entry of value) {
    if (!allowed.includes(entry)) issue(field, `${JSON.stringify(entry)} must be one of ${allowed.map((item) => `"${item}"`).join(', ')}`);
  }
}

function checkClaims(value: readonly ClaimMatch[] | undefined, field: string, issue: Issue): void {
  if (value === undefined) return;
  if (value.length === 0) issue(field, 'is empty; list at least one claim match');
  value.forEach((match, index) => {
    if (typeof match !== 'object' || match === null) {
      issue(`${field}[${index}]`, 'must be an object such as { "claim": "department", "equals": "finance" }');
      return;
    }
    const operators = ['equals', 'contains', 'in'].filter((key) => key in match);
    if (typeof match.claim !== 'string' || match.claim.length === 0) issue(`${field}[${index}].claim`, 'must be a claim name');
    if (operators.length !== 1) issue(`${field}[${index}]`, 'give exactly one of "equals", "contains" or "in"');
    else if ('in' in match && (!Array.isArray(match.in) || match.in.length === 0)) issue(`${field}[${index}].in`, 'list at least one value');
  });
}
