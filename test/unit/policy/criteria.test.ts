import assert from 'node:assert/strict';
import { matchAssignment } from '../../../src/policy/criteria/assignment.ts';
import { claimHolds, matchClaims } from '../../../src/policy/criteria/claims.ts';
import { matchClientApp } from '../../../src/policy/criteria/client-app.ts';
import { matchRisk } from '../../../src/policy/criteria/risk.ts';
import type { AccessFacts, ClaimMatch, ClientApp, IncludeExclude, RiskLevel } from '../../../src/policy/types.ts';

type User = AccessFacts['user'];

function user(overrides: Partial<User> = {}): User {
  return {
    sub: 'u-alice',
    email: 'Alice@Example.com',
    groups: ['staff', 'eng'],
    amr: ['pwd'],
    authTime: 0,
    claims: {},
    ...overrides,
  };
}

describe('policy: users and groups condition', () => {
  const alice = user();
  const cases: readonly [string, IncludeExclude | undefined, IncludeExclude | undefined, User, boolean, string][] = [
    ['no users or groups: everyone', undefined, undefined, alice, true, 'users:*'],
    ['users include *', { include: ['*'] }, undefined, alice, true, 'users:*'],
    ['groups include *', undefined, { include: ['*'] }, user({ groups: [] }), true, 'groups:*'],
    ['users include by sub', { include: ['u-bob', 'u-alice'] }, undefined, alice, true, 'users:u-alice'],
    ['sub is case-sensitive', { include: ['U-ALICE'] }, undefined, alice, false, 'users:not_included'],
    ['users include by email, any case', { include: ['alice@example.COM'] }, undefined, alice, true, 'users:alice@example.COM'],
    ['users include by email, other user', { include: ['bob@example.com'] }, undefined, alice, false, 'users:not_included'],
    ['users include by email, user has no email', { include: ['alice@example.com'] }, undefined, user({ email: undefined }), false, 'users:not_included'],
    ['groups include', undefined, { include: ['admins', 'eng'] }, alice, true, 'groups:eng'],
    ['group names are exact', undefined, { include: ['Eng'] }, alice, false, 'users:not_included'],
    ['groups include, not a member', undefined, { include: ['admins'] }, alice, false, 'users:not_included'],
    ['users or groups include: users matches', { include: ['u-alice'] }, { include: ['admins'] }, alice, true, 'users:u-alice'],
    ['users or groups include: groups matches', { include: ['u-bob'] }, { include: ['staff'] }, alice, true, 'groups:staff'],
    ['users or groups include: neither', { include: ['u-bob'] }, { include: ['admins'] }, alice, false, 'users:not_included'],
    ['only excludes given: everyone else is in', { exclude: ['u-bob'] }, { exclude: ['contractors'] }, alice, true, 'users:*'],
    // Exclude wins, in each direction.
    ['users exclude beats users include', { include: ['*'], exclude: ['u-alice'] }, undefined, alice, false, 'users.exclude:u-alice'],
    [
      'users exclude (verified email) beats groups include',
      { exclude: ['ALICE@example.com'] },
      { include: ['staff'] },
      user({ emailVerified: true }),
      false,
      'users.exclude:ALICE@example.com',
    ],
    ['groups exclude beats users include', { include: ['u-alice'] }, { exclude: ['eng'] }, alice, false, 'groups.exclude:eng'],
    ['groups exclude beats groups include', undefined, { include: ['staff'], exclude: ['eng'] }, alice, false, 'groups.exclude:eng'],
    ['groups exclude * excludes everyone', { include: ['*'] }, { exclude: ['*'] }, alice, false, 'groups.exclude:*'],
    ['exclude of another user leaves the include', { include: ['*'], exclude: ['u-bob'] }, undefined, alice, true, 'users:*'],
    // Only an email the identity provider vouched for can claim an exclusion...
    ['unverified email does not exclude', { include: ['*'], exclude: ['alice@example.com'] }, undefined, user({ emailVerified: false }), true, 'users:*'],
    ['email of unknown verification does not exclude', { include: ['*'], exclude: ['alice@example.com'] }, undefined, alice, true, 'users:*'],
    [
      'the flag wins over a claim saying otherwise',
      { include: ['*'], exclude: ['alice@example.com'] },
      undefined,
      user({ emailVerified: false, claims: { email_verified: true } }),
      true,
      'users:*',
    ],
    // ...but any email still includes (inclusion only adds requirements), and a verified one excludes.
    ['unverified email still includes', { include: ['alice@example.com'] }, undefined, user({ emailVerified: false }), true, 'users:alice@example.com'],
    [
      'verified email excludes',
      { include: ['*'], exclude: ['alice@example.com'] },
      undefined,
      user({ emailVerified: true }),
      false,
      'users.exclude:alice@example.com',
    ],
    [
      'without the flag, a verified claim excludes',
      { include: ['*'], exclude: ['alice@example.com'] },
      undefined,
      user({ claims: { email_verified: true } }),
      false,
      'users.exclude:alice@example.com',
    ],
    [
      'unverified email: sub exclusion still works',
      { include: ['*'], exclude: ['u-alice'] },
      undefined,
      user({ emailVerified: false }),
      false,
      'users.exclude:u-alice',
    ],
  ];
  for (const [name, users, groups, who, ok, reason] of cases) {
    it(name, () => assert.deepEqual(matchAssignment(users, groups, who), { ok, reason }));
  }
});

describe('policy: client app condition', () => {
  const cases: readonly [readonly ClientApp[], ClientApp, boolean, string][] = [
    [['browser'], 'browser', true, 'clientApp:browser'],
    [['browser'], 'api', false, 'clientApp:api'],
    [['api'], 'api', true, 'clientApp:api'],
    [['browser', 'api'], 'api', true, 'clientApp:api'],
    // A client the middleware could not classify is treated as both.
    [['api'], 'desktop' as ClientApp, true, 'clientApp:unknown'],
  ];
  for (const [allowed, app, ok, reason] of cases) {
    it(`${JSON.stringify(allowed)} with ${app}`, () => assert.deepEqual(matchClientApp(allowed, app), { ok, reason }));
  }
});

describe('policy: risk conditions', () => {
  const cases: readonly ['signInRisk' | 'userRisk', readonly RiskLevel[], RiskLevel, boolean, string][] = [
    ['signInRisk', ['high'], 'high', true, 'signInRisk:high'],
    ['signInRisk', ['high'], 'medium', false, 'signInRisk:medium'],
    ['signInRisk', ['medium', 'high'], 'medium', true, 'signInRisk:medium'],
    ['signInRisk', ['medium', 'high'], 'none', false, 'signInRisk:none'],
    ['userRisk', ['low'], 'low', true, 'userRisk:low'],
    ['userRisk', ['high'], 'low', false, 'userRisk:low'],
    ['userRisk', ['none'], 'none', true, 'userRisk:none'],
    // A level outside the four (a provider bug) must not dodge a risk policy.
    ['signInRisk', ['high'], 'severe' as RiskLevel, true, 'signInRisk:unknown'],
    ['userRisk', ['high'], '' as RiskLevel, true, 'userRisk:unknown'],
  ];
  for (const [kind, allowed, level, ok, reason] of cases) {
    it(`${kind} ${JSON.stringify(allowed)} at ${level || '(empty)'}`, () => assert.deepEqual(matchRisk(kind, allowed, level), { ok, reason }));
  }
});

describe('policy: claim matches', () => {
  const claims: Record<string, unknown> = {
    department: 'finance',
    level: 3,
    admin: true,
    roles: ['reader', 'writer'],
    scope: 'openid profile  payroll',
    nested: { department: 'finance' },
    nothing: null,
  };
  const cases: readonly [ClaimMatch, boolean][] = [
    [{ claim: 'department', equals: 'finance' }, true],
    [{ claim: 'department', equals: 'Finance' }, false],
    [{ claim: 'level', equals: 3 }, true],
    [{ claim: 'level', equals: '3' }, false],
    [{ claim: 'admin', equals: true }, true],
    [{ claim: 'admin', equals: 'true' }, false],
    [{ claim: 'missing', equals: 'x' }, false],
    [{ claim: 'nothing', equals: 'null' }, false],
    [{ claim: 'roles', contains: 'writer' }, true],
    [{ claim: 'roles', contains: 'admin' }, false],
    [{ claim: 'roles', contains: 'write' }, false],
    [{ claim: 'scope', contains: 'payroll' }, true],
    [{ claim: 'scope', contains: 'pay' }, false],
    [{ claim: 'scope', contains: 'openid profile' }, false],
    [{ claim: 'scope', contains: '' }, false],
    [{ claim: 'department', contains: 'finance' }, true],
    [{ claim: 'level', contains: '3' }, false],
    [{ claim: 'department', in: ['hr', 'finance'] }, true],
    [{ claim: 'department', in: ['hr'] }, false],
    [{ claim: 'level', in: [1, 2, 3] }, true],
    [{ claim: 'level', in: ['3'] }, false],
    [{ claim: 'roles', in: ['reader'] }, false],
    [{ claim: 'nested', in: ['finance'] }, false],
    [{ claim: 'nested.department', equals: 'finance' }, false],
    // Inherited properties are not claims.
    [{ claim: 'constructor', contains: 'Object' }, false],
    [{ claim: 'toString', in: ['x'] }, false],
    [{ claim: '__proto__', equals: 'x' }, false],
  ];
  for (const [match, ok] of cases) {
    it(`${JSON.stringify(match)} → ${String(ok)}`, () => assert.equal(claimHolds(match, claims), ok));
  }

  it('a claims condition holds when every match does, and names the first that fails', () => {
    assert.deepEqual(
      matchClaims(
        [
          { claim: 'department', equals: 'finance' },
          { claim: 'roles', contains: 'reader' },
        ],
        claims,
      ),
      {
        ok: true,
        reason: 'claims:department,roles',
      },
    );
    assert.deepEqual(
      matchClaims(
        [
          { claim: 'department', equals: 'finance' },
          { claim: 'roles', contains: 'admin' },
          { claim: 'level', equals: 9 },
        ],
        claims,
      ),
      {
        ok: false,
        reason: 'claims:roles',
      },
    );
  });
});
