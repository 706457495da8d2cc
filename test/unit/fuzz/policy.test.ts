import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createPolicyEngine, type PolicyEngine } from '../../../src/policy/engine.ts';
import type {
  AccessDecision,
  AccessFacts,
  ClaimMatch,
  DecisionEffect,
  IncludeExclude,
  Policy,
  PolicyConditions,
  PolicyGrant,
} from '../../../src/policy/types.ts';
import { fuzzTimeout, runs } from '../../support/fuzz-runs.ts';

/**
 * The conditional-access engine on random policy sets and random facts. What holds (see engine.ts for the semantics):
 * - it is total: any facts give allow, step-up or deny, with a reason for every failure, and never throw;
 * - policies only add requirements: adding a policy never makes a decision more lenient; a report-only or off one
 *   never changes it;
 * - more MFA never makes a decision stricter;
 * - a later sign-in (fresher auth_time) never makes it stricter; an unknown one is the strictest;
 * - doubt is strict: an unreadable client address, path or risk level is at least as strict as any real one;
 * - groups only work through a policy's conditions, so they are monotonic one way per kind of condition: with
 *   `groups.include` only, one group more never makes a decision more lenient; with `groups.exclude` only, one group
 *   fewer never does (losing an exemption never grants access). Mixed conditions have no such order, and none is
 *   claimed.
 * Strictness: allow < step-up < deny.
 */

const RANK: Readonly<Record<DecisionEffect, number>> = { allow: 0, 'step-up': 1, deny: 2 };
const MFA = { amr: ['mfa', 'otp'], acr: ['urn:mfa'] };
const NAMED = { corp: ['10.0.0.0/8', '2001:db8::/32'], home: ['192.168.0.0/16'] };
const GROUPS = ['staff', 'ops', 'admins', 'contractors'] as const;
const NOW = 1_800_000_000;

const list = <T>(values: readonly T[]): fc.Arbitrary<T[]> => fc.uniqueArray(fc.constantFrom(...values), { minLength: 1, maxLength: values.length });
const includeExclude = (values: readonly string[], mode: 'both' | 'include' | 'exclude'): fc.Arbitrary<IncludeExclude> => {
  const include = mode !== 'exclude' ? fc.option(list(values), { nil: undefined }) : fc.constant(undefined);
  const exclude = mode !== 'include' ? fc.option(list(values), { nil: undefined }) : fc.constant(undefined);
  return fc
    .record({ include, exclude })
    .filter((value) => value.include !== undefined || value.exclude !== undefined)
    .map((value) => ({ ...(value.include && { include: value.include }), ...(value.exclude && { exclude: value.exclude }) }));
};
const claimMatch: fc.Arbitrary<ClaimMatch> = fc.oneof(
  fc.record({ claim: fc.constantFrom('department', 'level', 'scope'), equals: fc.constantFrom<string | number | boolean>('finance', 'it', 3, true) }),
  fc.record({ claim: fc.constantFrom('department', 'scope', 'roles'), contains: fc.constantFrom('read', 'write', 'finance') }),
  fc.record({ claim: fc.constantFrom('department', 'level'), in: list<string | number | boolean>(['finance', 'it', 1, 3, false]) }),
);

type GroupMode = 'both' | 'include' | 'exclude';

/** Up to three conditions per policy: with more, a random policy almost never applies and every decision is allow. */
const conditions = (groupMode: GroupMode): fc.Arbitrary<PolicyConditions> => {
  const each = {
    users: includeExclude(['*', 'user-alice', 'bob@example.com', 'user-carol'], 'both'),
    groups: includeExclude(groupMode === 'both' ? [...GROUPS, '*'] : GROUPS, groupMode),
    locations: includeExclude(['corp', 'home', 'any', '203.0.113.0/24'], 'both'),
    clientApps: list(['browser', 'api'] as const),
    kinds: list(['user', 'service'] as const),
    signInRisk: list(['none', 'low', 'medium', 'high'] as const),
    userRisk: list(['none', 'low', 'medium', 'high'] as const),
    claims: fc.array(claimMatch, { minLength: 1, maxLength: 2 }),
    paths: list(['/admin/', '/export', '/', '/api/v1/']),
  };
  const keys = Object.keys(each) as (keyof typeof each)[];
  // Group conditions are what the group properties are about: always among the candidates there.
  const chosen = fc
    .uniqueArray(fc.constantFrom(...keys), { maxLength: 3 })
    .map((picked) => (groupMode === 'both' || picked.includes('groups') ? picked : [...picked, 'groups' as const]));
  return chosen.chain((picked) => fc.record(Object.fromEntries(picked.map((key) => [key, each[key]])) as { [K in keyof typeof each]: (typeof each)[K] }));
};

const grant: fc.Arbitrary<PolicyGrant> = fc.record(
  {
    block: fc.boolean(),
    mfa: fc.boolean(),
    claims: fc.array(claimMatch, { minLength: 1, maxLength: 2 }),
    operator: fc.constantFrom('all' as const, 'one' as const),
  },
  { requiredKeys: [] },
);

const policy = (groupMode: GroupMode, name: string): fc.Arbitrary<Policy> =>
  fc
    .record({
      state: fc.constantFrom('on' as const, 'on' as const, 'off' as const, 'report-only' as const),
      conditions: conditions(groupMode),
      grant,
      session: fc.option(
        fc.record(
          { signInFrequency: fc.integer({ min: 60, max: 86_400 }), persistentBrowser: fc.constantFrom('allowed' as const, 'never' as const) },
          { requiredKeys: [] },
        ),
        { nil: undefined },
      ),
    })
    .map(({ session, ...rest }) => {
      const hasControl = rest.grant.block === true || rest.grant.mfa === true || rest.grant.claims !== undefined;
      const hasSession = session?.signInFrequency !== undefined || session?.persistentBrowser !== undefined;
      return { name, ...rest, grant: hasControl || hasSession ? rest.grant : { ...rest.grant, mfa: true }, ...(session && { session }) };
    });

const policies = (groupMode: GroupMode, maxLength = 4): fc.Arbitrary<Policy[]> =>
  fc
    .integer({ min: 0, max: maxLength })
    .chain((count) => (count === 0 ? fc.constant([]) : fc.tuple(...Array.from({ length: count }, (_, index) => policy(groupMode, `p${index}`)))));

const JUNK = fc.string({ unit: 'binary', maxLength: 20 });
const facts: fc.Arbitrary<AccessFacts> = fc.record({
  user: fc.record({
    sub: fc.oneof(fc.constantFrom('user-alice', 'user-bob', 'user-carol', 'client-1'), JUNK),
    email: fc.option(fc.constantFrom('bob@example.com', 'BOB@example.com', 'alice@example.com', ''), { nil: undefined }),
    emailVerified: fc.option(fc.boolean(), { nil: undefined }),
    groups: fc.uniqueArray(fc.oneof(fc.constantFrom(...GROUPS), JUNK), { maxLength: 4 }),
    amr: fc.array(fc.oneof(fc.constantFrom('pwd', 'otp', 'mfa', 'hwk'), JUNK), { maxLength: 3 }),
    acr: fc.option(fc.oneof(fc.constantFrom('urn:mfa', 'urn:pwd'), JUNK), { nil: undefined }),
    authTime: fc.option(fc.oneof(fc.integer({ min: NOW - 200_000, max: NOW + 100 }), fc.constantFrom(Number.NaN, -Infinity)), { nil: undefined }),
    kind: fc.option(fc.constantFrom('user' as const, 'service' as const), { nil: undefined }),
    claims: fc.oneof(
      fc.dictionary(fc.constantFrom('department', 'level', 'scope', 'roles', '__proto__', 'constructor', 'email_verified'), fc.jsonValue({ maxDepth: 2 })),
      fc.record(
        { department: fc.constantFrom('finance', 'it'), level: fc.constantFrom(1, 3, '3'), scope: fc.constantFrom('read write', 'read', '') },
        { requiredKeys: [] },
      ),
    ),
  }),
  clientIp: fc.oneof(fc.constantFrom('10.1.2.3', '192.168.1.1', '203.0.113.9', '2001:db8::1', '::ffff:10.0.0.1', '198.51.100.4', ''), JUNK),
  clientApp: fc.oneof(fc.constantFrom('browser' as const, 'api' as const), JUNK as fc.Arbitrary<'api'>),
  path: fc.oneof(fc.constantFrom('/', '/admin/', '/admin', '/ADMIN/x', '/export', '/export/', '/api/v1/x', '/public/..%2fadmin/', '/%zz', 'no-slash'), JUNK),
  signInRisk: fc.oneof(fc.constantFrom('none' as const, 'low' as const, 'medium' as const, 'high' as const), JUNK as fc.Arbitrary<'none'>),
  userRisk: fc.oneof(fc.constantFrom('none' as const, 'low' as const, 'medium' as const, 'high' as const), JUNK as fc.Arbitrary<'none'>),
  now: fc.constant(NOW),
});

function engineOf(set: readonly Policy[]): PolicyEngine {
  return createPolicyEngine({ policies: set, namedLocations: NAMED, mfa: MFA });
}

function rank(engine: PolicyEngine, input: AccessFacts): number {
  return RANK[engine.evaluate(input).effect];
}

function withUser(input: AccessFacts, user: Partial<AccessFacts['user']>): AccessFacts {
  return { ...input, user: { ...input.user, ...user } };
}

function checkShape(decision: AccessDecision, set: readonly Policy[]): void {
  assert.ok(decision.effect in RANK, decision.effect);
  assert.equal(decision.outcomes.length, set.filter((entry) => entry.state !== 'off').length);
  assert.equal(decision.effect === 'allow', decision.failed.length === 0);
  assert.equal(decision.effect === 'step-up', decision.stepUp !== undefined);
  assert.equal(typeof decision.persistentAllowed, 'boolean');
  for (const outcome of decision.outcomes) assert.ok(typeof outcome.reason === 'string' && outcome.reason.length > 0);
  for (const outcome of decision.failed) {
    assert.equal(outcome.state, 'on');
    assert.ok(outcome.applied && !outcome.satisfied);
    assert.ok(outcome.remedy !== undefined && (outcome.reasons?.length ?? 0) > 0);
  }
}

describe('fuzz: conditional-access policy evaluation', function () {
  this.timeout(fuzzTimeout(60_000));

  it('is total: every policy set and any facts give a well-formed decision', () => {
    const seen = new Set<DecisionEffect>();
    fc.assert(
      fc.property(policies('both', 5), facts, (set, input) => {
        const decision = engineOf(set).evaluate(input);
        checkShape(decision, set);
        seen.add(decision.effect);
      }),
      runs(400),
    );
    // The generators reach every effect, so the properties below are not about one kind of decision only.
    assert.deepEqual([...seen].sort(), ['allow', 'deny', 'step-up']);
  });

  it('adding a policy never makes the decision more lenient; report-only and off ones never change it', () => {
    fc.assert(
      fc.property(policies('both', 3), policy('both', 'added'), facts, (set, added, input) => {
        const before = engineOf(set).evaluate(input).effect;
        const after = engineOf([...set, added]).evaluate(input).effect;
        assert.ok(RANK[after] >= RANK[before], `${before} → ${after}`);
        if (added.state !== 'on') assert.equal(after, before);
      }),
      runs(300),
    );
  });

  it('adding a multi-factor method never makes the decision stricter', () => {
    fc.assert(
      fc.property(policies('both'), facts, fc.constantFrom('mfa', 'otp'), (set, input, method) => {
        const engine = engineOf(set);
        assert.ok(rank(engine, withUser(input, { amr: [...input.user.amr, method] })) <= rank(engine, input));
        assert.ok(rank(engine, withUser(input, { acr: 'urn:mfa' })) <= rank(engine, input));
      }),
      runs(300),
    );
  });

  it('a fresher sign-in never makes the decision stricter; an unknown sign-in time is the strictest', () => {
    fc.assert(
      fc.property(policies('both'), facts, fc.integer({ min: NOW - 200_000, max: NOW }), fc.integer({ min: 0, max: 100_000 }), (set, input, older, gap) => {
        const engine = engineOf(set);
        const newer = Math.min(NOW, older + gap);
        const atOlder = rank(engine, withUser(input, { authTime: older }));
        assert.ok(rank(engine, withUser(input, { authTime: newer })) <= atOlder);
        assert.ok(rank(engine, withUser(input, { authTime: undefined })) >= atOlder);
      }),
      runs(300),
    );
  });

  it('an unreadable address, path or risk level is at least as strict as any real one', () => {
    fc.assert(
      fc.property(
        policies('both'),
        facts,
        fc.constantFrom('not-an-ip', '10.0.0.1%eth0', '999.1.1.1', ''),
        fc.constantFrom('/%zz', '/a\u0000b', 'relative', '/%25%25%25%2541'),
        (set, input, badIp, badPath) => {
          const engine = engineOf(set);
          const base = rank(engine, input);
          assert.ok(rank(engine, { ...input, clientIp: badIp }) >= base, `ip ${badIp}`);
          assert.ok(rank(engine, { ...input, path: badPath }) >= base, `path ${badPath}`);
          assert.ok(rank(engine, { ...input, signInRisk: 'severe' as 'high', userRisk: 'severe' as 'high' }) >= base, 'risk');
        },
      ),
      runs(300),
    );
  });

  it('groups.include only: one group more never makes the decision more lenient', () => {
    fc.assert(
      fc.property(policies('include'), facts, fc.constantFrom(...GROUPS), (set, input, group) => {
        const engine = engineOf(set);
        const without = withUser(input, { groups: input.user.groups.filter((g) => g !== group) });
        assert.ok(rank(engine, withUser(without, { groups: [...without.user.groups, group] })) >= rank(engine, without));
      }),
      runs(300),
    );
  });

  it('groups.exclude only: one group fewer never makes the decision more lenient', () => {
    fc.assert(
      fc.property(policies('exclude'), facts, fc.constantFrom(...GROUPS), (set, input, group) => {
        const engine = engineOf(set);
        const withGroup = withUser(input, { groups: [...input.user.groups.filter((g) => g !== group), group] });
        const without = withUser(input, { groups: withGroup.user.groups.filter((g) => g !== group) });
        assert.ok(rank(engine, without) >= rank(engine, withGroup));
      }),
      runs(300),
    );
  });
});
