import assert from 'node:assert/strict';
import { GatehouseConfigError } from '../../../src/errors/index.ts';
import { createPolicyEngine } from '../../../src/policy/engine.ts';
import type { PolicyEngineOptions } from '../../../src/policy/engine.ts';
import type { AccessDecision, AccessFacts, MfaSettings, Policy } from '../../../src/policy/types.ts';

const NOW = 1_700_000_000;
const LOCATIONS = { corporate: ['10.0.0.0/8', '2001:db8:c0::/48'], vpn: ['198.51.100.0/24'] };
const MFA: MfaSettings = { amr: ['mfa'], acr: ['urn:example:mfa'], acrValues: ['urn:example:mfa'] };

type FactsOverrides = Omit<Partial<AccessFacts>, 'user'> & { readonly user?: Partial<AccessFacts['user']> };

function facts(overrides: FactsOverrides = {}): AccessFacts {
  const { user, ...rest } = overrides;
  return {
    user: { sub: 'u-alice', email: 'alice@example.com', groups: ['staff'], amr: ['pwd'], authTime: NOW - 60, claims: { department: 'finance' }, ...user },
    clientIp: '203.0.113.7',
    clientApp: 'browser',
    path: '/',
    signInRisk: 'none',
    userRisk: 'none',
    now: NOW,
    ...rest,
  };
}

const mfaUser = { amr: ['pwd', 'mfa'] };

function policy(name: string, fields: Partial<Omit<Policy, 'name'>> = {}): Policy {
  return { name, state: 'on', conditions: {}, grant: { mfa: true }, ...fields };
}

function engine(policies: readonly Policy[], options: Partial<PolicyEngineOptions> = {}) {
  return createPolicyEngine({ policies, namedLocations: LOCATIONS, mfa: MFA, ...options });
}

function evaluate(policies: readonly Policy[], overrides: FactsOverrides = {}, options: Partial<PolicyEngineOptions> = {}): AccessDecision {
  return engine(policies, options).evaluate(facts(overrides));
}

function configError(run: () => unknown): GatehouseConfigError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof TypeError, 'a caller mistake is a TypeError');
    assert.ok(error instanceof GatehouseConfigError);
    assert.equal(error.code, 'ERR_INVALID_CONFIG');
    return error;
  }
  assert.fail('expected the engine to refuse its options');
}

describe('policy engine: construction', () => {
  const refusals: readonly [string, Partial<PolicyEngineOptions>, RegExp][] = [
    [
      'an unknown named location',
      { policies: [policy('p', { conditions: { locations: { include: ['branch'] } } })] },
      /policies\[0\] \("p"\)\.conditions\.locations\.include: unknown named location "branch"/,
    ],
    [
      'an unknown named location in an exclude',
      { policies: [policy('p', { conditions: { locations: { exclude: ['hq'] } } })] },
      /"p"\)\.conditions\.locations\.exclude: unknown named location "hq"/,
    ],
    [
      'a bad inline range',
      { policies: [policy('p', { conditions: { locations: { include: ['10.0.0.0/33'] } } })] },
      /"p"\).*"10\.0\.0\.0\/33" has a prefix length outside 0-32/,
    ],
    [
      'a bad named location range',
      { namedLocations: { corporate: ['10.0.0.0/8', '10.0.0.300/24'] } },
      /namedLocations\.corporate: "10\.0\.0\.300\/24" is not an IPv4 or IPv6 address/,
    ],
    ['a named location range with host bits', { namedLocations: { corporate: ['2001:db8::1/32'] } }, /namedLocations\.corporate: .*host bits/],
    ['an empty named location', { namedLocations: { corporate: [] } }, /namedLocations\.corporate: list at least one/],
    ['a named location called any', { namedLocations: { any: ['10.0.0.0/8'] } }, /namedLocations\.any: "any" is reserved/],
    ['a duplicate policy name', { policies: [policy('p'), policy('p')] }, /policies\[1\] \("p"\)\.name: duplicate policy name/],
    ['an empty name', { policies: [policy('')] }, /policies\[0\] \(""\)\.name: must be a non-empty string/],
    ['an unknown state', { policies: [policy('p', { state: 'enabled' as Policy['state'] })] }, /"p"\)\.state: must be "on", "off" or "report-only"/],
    ['an empty users include', { policies: [policy('p', { conditions: { users: { include: [] } } })] }, /"p"\)\.conditions\.users\.include: is empty/],
    ['an empty groups condition', { policies: [policy('p', { conditions: { groups: {} } })] }, /"p"\)\.conditions\.groups: give "include", "exclude" or both/],
    [
      'an unknown client app',
      { policies: [policy('p', { conditions: { clientApps: ['desktop' as 'api'] } })] },
      /"p"\)\.conditions\.clientApps: "desktop" must be one of "browser", "api"/,
    ],
    ['an unknown risk level', { policies: [policy('p', { conditions: { signInRisk: ['severe' as 'high'] } })] }, /"p"\)\.conditions\.signInRisk: "severe"/],
    ['an empty risk list', { policies: [policy('p', { conditions: { userRisk: [] } })] }, /"p"\)\.conditions\.userRisk: is empty/],
    ['a relative path', { policies: [policy('p', { conditions: { paths: ['admin/'] } })] }, /"p"\)\.conditions\.paths: "admin\/" must be a path/],
    ['a path with a query', { policies: [policy('p', { conditions: { paths: ['/admin?x'] } })] }, /"p"\)\.conditions\.paths/],
    [
      'a claim match with two operators',
      { policies: [policy('p', { grant: { claims: [{ claim: 'a', equals: 'x', in: ['y'] }] } })] },
      /"p"\)\.grant\.claims\[0\]: give exactly one of/,
    ],
    [
      'a claim match with an empty in',
      { policies: [policy('p', { conditions: { claims: [{ claim: 'a', in: [] }] } })] },
      /"p"\)\.conditions\.claims\[0\]\.in: list at least one value/,
    ],
    ['an empty claims grant', { policies: [policy('p', { grant: { claims: [] } })] }, /"p"\)\.grant\.claims: is empty/],
    ['a grant with no control', { policies: [policy('p', { grant: {} })] }, /"p"\)\.grant: name at least one control/],
    ['an unknown operator', { policies: [policy('p', { grant: { mfa: true, operator: 'any' as 'one' } })] }, /"p"\)\.grant\.operator: must be "all" or "one"/],
    ['an MFA grant nothing can satisfy', { policies: [policy('p')], mfa: { amr: [], acr: [] } }, /"p"\)\.grant\.mfa: can never be satisfied/],
    [
      'a zero sign-in frequency',
      { policies: [policy('p', { session: { signInFrequency: 0 } })] },
      /"p"\)\.session\.signInFrequency: must be a positive number/,
    ],
    ['a non-finite sign-in frequency', { policies: [policy('p', { session: { signInFrequency: Number.NaN } })] }, /signInFrequency/],
    [
      'an unknown persistent browser value',
      { policies: [policy('p', { session: { persistentBrowser: 'always' as 'never' } })] },
      /"p"\)\.session\.persistentBrowser/,
    ],
    ['mfa settings without lists', { mfa: { amr: ['mfa'] } as unknown as MfaSettings }, /mfa: must give "amr" and "acr" arrays/],
  ];
  for (const [name, options, message] of refusals) {
    it(`refuses ${name}, naming it`, () => {
      const error = configError(() => createPolicyEngine({ policies: [], namedLocations: LOCATIONS, mfa: MFA, ...options }));
      assert.match(error.message, message);
    });
  }

  it('validates off policies too, and reports every problem at once', () => {
    const error = configError(() => engine([policy('a', { state: 'off', conditions: { locations: { include: ['branch'] } } }), policy('b', { grant: {} })]));
    assert.equal(error.issues.length, 2);
    assert.match(error.issues[0] ?? '', /"a"/);
    assert.match(error.issues[1] ?? '', /"b"/);
  });

  it('accepts a policy with only session controls', () => {
    assert.equal(evaluate([policy('fresh', { grant: {}, session: { signInFrequency: 30 } })]).effect, 'step-up');
  });

  it('reads absent conditions and grant (plain JavaScript callers) as empty', () => {
    const bare = { name: 'bare', state: 'on', session: { signInFrequency: 30 } } as unknown as Policy;
    assert.equal(engine([bare]).evaluate(facts()).effect, 'step-up');
    assert.match(configError(() => engine([{ name: 'nothing', state: 'on' } as unknown as Policy])).message, /"nothing"\)\.grant: name at least one control/);
    assert.match(configError(() => engine([policy('p', { grant: { claims: [null as never] } })])).message, /"p"\)\.grant\.claims\[0\]: must be an object/);
  });

  it('keeps its own copy: changing the options afterwards changes nothing', () => {
    const users = { include: ['u-bob'] };
    const locations: Record<string, string[]> = { corporate: ['10.0.0.0/8'] };
    const subject = createPolicyEngine({ policies: [policy('p', { conditions: { users }, grant: { block: true } })], namedLocations: locations, mfa: MFA });
    users.include.push('u-alice');
    locations['corporate']?.push('203.0.113.0/24');
    assert.equal(subject.evaluate(facts()).effect, 'allow');
  });
});

describe('policy engine: decisions', () => {
  it('allows when there are no policies', () => {
    assert.deepEqual(evaluate([]), { effect: 'allow', failed: [], outcomes: [], persistentAllowed: true });
  });

  it('skips off policies entirely', () => {
    const decision = evaluate([policy('blocked', { state: 'off', grant: { block: true } })]);
    assert.deepEqual(decision, { effect: 'allow', failed: [], outcomes: [], persistentAllowed: true });
  });

  it('allows when no policy applies, and says which condition did not match', () => {
    const decision = evaluate([policy('admins', { conditions: { groups: { include: ['admins'] } }, grant: { block: true } })]);
    assert.equal(decision.effect, 'allow');
    assert.deepEqual(decision.outcomes, [
      { policy: 'admins', state: 'on', applied: false, satisfied: true, reason: 'condition.users:not_included', matched: [] },
    ]);
  });

  it('blocks, with contact-admin as the remedy', () => {
    const decision = evaluate([policy('no-contractors', { conditions: { groups: { include: ['staff'] } }, grant: { block: true } })]);
    assert.equal(decision.effect, 'deny');
    assert.equal(decision.stepUp, undefined);
    assert.deepEqual(decision.failed, [
      {
        policy: 'no-contractors',
        state: 'on',
        applied: true,
        satisfied: false,
        reason: 'grant.block',
        reasons: ['grant.block'],
        matched: ['groups:staff'],
        remedy: 'contact-admin',
      },
    ]);
    assert.deepEqual(decision.outcomes, decision.failed);
  });

  describe('a block outside the corporate network', () => {
    const offsite = [policy('corp-only', { conditions: { locations: { include: ['any'], exclude: ['corporate', 'vpn'] } }, grant: { block: true } })];
    const cases: readonly [string, string, AccessDecision['effect']][] = [
      ['IPv4 outside', '203.0.113.7', 'deny'],
      ['IPv4 inside', '10.20.30.40', 'allow'],
      ['IPv4 inside the second location', '198.51.100.9', 'allow'],
      ['IPv6 outside', '2001:db8:ff::1', 'deny'],
      ['IPv6 inside', '2001:db8:c0:5::1', 'allow'],
      ['IPv4-mapped IPv6 inside', '::ffff:10.20.30.40', 'allow'],
      ['IPv4-mapped IPv6 outside', '::ffff:203.0.113.7', 'deny'],
      ['unknown address', '', 'deny'],
      ['garbage address', 'not-an-ip', 'deny'],
    ];
    for (const [name, clientIp, effect] of cases) {
      it(`${name} (${clientIp || 'empty'}) → ${effect}`, () => {
        const decision = evaluate(offsite, { clientIp });
        assert.equal(decision.effect, effect);
        if (effect === 'deny') {
          assert.equal(decision.failed[0]?.remedy, 'use-corporate-network');
          assert.equal(decision.failed[0]?.reason, 'grant.block');
        } else {
          assert.match(decision.outcomes[0]?.reason ?? '', /^condition\.location\.exclude:(corporate|vpn)$/);
        }
      });
    }

    it('a mapped IPv4 range in a named location matches plain IPv4 clients', () => {
      const decision = evaluate(offsite, { clientIp: '10.1.1.1' }, { namedLocations: { corporate: ['::ffff:10.0.0.0/104'], vpn: ['198.51.100.0/24'] } });
      assert.equal(decision.effect, 'allow');
    });

    it('an inline range works like a named one', () => {
      const inline = [policy('inline', { conditions: { locations: { exclude: ['10.0.0.0/8'] } }, grant: { block: true } })];
      assert.equal(evaluate(inline, { clientIp: '10.1.1.1' }).effect, 'allow');
      assert.deepEqual(evaluate(inline, { clientIp: '203.0.113.1' }).failed[0]?.matched, ['users:*', 'location:outside:10.0.0.0/8']);
    });
  });

  describe('MFA and step-up', () => {
    const requireMfa = [policy('mfa')];

    it('allows a session with MFA by amr', () => assert.equal(evaluate(requireMfa, { user: mfaUser }).effect, 'allow'));
    it('allows a session with MFA by acr', () => assert.equal(evaluate(requireMfa, { user: { acr: 'urn:example:mfa' } }).effect, 'allow'));

    it('steps up a session without MFA, asking for the configured acr_values', () => {
      const decision = evaluate(requireMfa);
      assert.equal(decision.effect, 'step-up');
      assert.deepEqual(decision.stepUp, { acrValues: ['urn:example:mfa'], maxAge: 0, prompt: 'login', reason: 'mfa' });
      assert.deepEqual(decision.failed, [
        {
          policy: 'mfa',
          state: 'on',
          applied: true,
          satisfied: false,
          reason: 'grant.mfa_missing',
          reasons: ['grant.mfa_missing'],
          matched: ['users:*'],
          remedy: 'sign-in-with-mfa',
        },
      ]);
    });

    it('leaves acr_values out when none are configured', () => {
      assert.deepEqual(evaluate(requireMfa, {}, { mfa: { amr: ['mfa'], acr: [] } }).stepUp, { maxAge: 0, prompt: 'login', reason: 'mfa' });
      assert.deepEqual(evaluate(requireMfa, {}, { mfa: { amr: ['mfa'], acr: [], acrValues: [] } }).stepUp, { maxAge: 0, prompt: 'login', reason: 'mfa' });
    });
  });

  describe('sign-in frequency', () => {
    const hourly = policy('hourly', { grant: {}, session: { signInFrequency: 3600 } });

    it('allows a fresh enough authentication', () => assert.equal(evaluate([hourly], { user: { authTime: NOW - 3600 } }).effect, 'allow'));

    it('steps up an authentication of unknown time (no auth_time), failing closed', () => {
      const decision = evaluate([hourly], { user: { authTime: undefined } });
      assert.equal(decision.effect, 'step-up');
      assert.equal(decision.failed[0]?.reason, 'session.sign_in_frequency');
    });

    it('steps up an older one with max_age set to the frequency', () => {
      const decision = evaluate([hourly], { user: { authTime: NOW - 3601 } });
      assert.equal(decision.effect, 'step-up');
      assert.deepEqual(decision.stepUp, { maxAge: 3600, prompt: 'login', reason: 'sign_in_frequency' });
      assert.equal(decision.failed[0]?.reason, 'session.sign_in_frequency');
      assert.equal(decision.failed[0]?.remedy, 'sign-in-again');
    });

    it('asks for the smallest frequency among the enforced policies that apply', () => {
      const policies = [
        hourly,
        policy('ten-minutes', { grant: {}, session: { signInFrequency: 600 } }),
        policy('report-only', { state: 'report-only', grant: {}, session: { signInFrequency: 60 } }),
        policy('other-app-path', { grant: {}, conditions: { paths: ['/admin/'] }, session: { signInFrequency: 30 } }),
      ];
      assert.equal(evaluate(policies, { user: { authTime: NOW - 7200 } }).stepUp?.maxAge, 600);
      assert.equal(evaluate(policies, { user: { authTime: NOW - 900 } }).stepUp?.maxAge, 600);
      assert.equal(evaluate(policies, { user: { authTime: NOW - 7200 }, path: '/admin/x' }).stepUp?.maxAge, 30);
    });

    it('with MFA missing too, asks for MFA and a fresh login', () => {
      const decision = evaluate([policy('mfa'), hourly], { user: { authTime: NOW - 7200 } });
      assert.deepEqual(decision.stepUp, { acrValues: ['urn:example:mfa'], maxAge: 0, prompt: 'login', reason: 'mfa' });
      assert.deepEqual(
        decision.failed.map((outcome) => outcome.reason),
        ['grant.mfa_missing', 'session.sign_in_frequency'],
      );
    });

    it('in one policy with MFA: the MFA reason leads, both are listed', () => {
      const decision = evaluate([policy('both', { session: { signInFrequency: 60 } })], { user: { authTime: NOW - 7200 } });
      assert.equal(decision.stepUp?.reason, 'mfa');
      assert.deepEqual(decision.failed[0]?.reasons, ['grant.mfa_missing', 'session.sign_in_frequency']);
      assert.equal(decision.failed[0]?.remedy, 'sign-in-with-mfa');
    });
  });

  describe('grant operator', () => {
    const finance = { claim: 'department', equals: 'finance' } as const;
    const hr = { claim: 'department', equals: 'hr' } as const;
    const cases: readonly [string, Policy['grant'], FactsOverrides, AccessDecision['effect'], string | undefined][] = [
      ['all: both hold', { mfa: true, claims: [finance] }, { user: mfaUser }, 'allow', undefined],
      ['all: claims fail → deny', { mfa: true, claims: [hr] }, { user: mfaUser }, 'deny', 'grant.claims:department'],
      ['all: MFA missing → step-up', { mfa: true, claims: [finance] }, {}, 'step-up', 'grant.mfa_missing'],
      ['all: both fail → deny (a sign-in cannot fix the claims)', { mfa: true, claims: [hr] }, {}, 'deny', 'grant.claims:department'],
      ['default operator is all', { mfa: true, claims: [hr] }, { user: mfaUser }, 'deny', 'grant.claims:department'],
      ['one: claims hold, MFA missing → allow', { mfa: true, claims: [finance], operator: 'one' }, {}, 'allow', undefined],
      ['one: MFA holds, claims fail → allow', { mfa: true, claims: [hr], operator: 'one' }, { user: mfaUser }, 'allow', undefined],
      ['one: both fail → step-up (MFA would do)', { mfa: true, claims: [hr], operator: 'one' }, {}, 'step-up', 'grant.mfa_missing'],
      ['one: block or MFA, MFA held → allow', { block: true, mfa: true, operator: 'one' }, { user: mfaUser }, 'allow', undefined],
      ['one: block or MFA, MFA missing → step-up', { block: true, mfa: true, operator: 'one' }, {}, 'step-up', 'grant.mfa_missing'],
      ['one: block or claims, claims fail → deny', { block: true, claims: [hr], operator: 'one' }, {}, 'deny', 'grant.block'],
      ['all: block and MFA held → deny', { block: true, mfa: true }, { user: mfaUser }, 'deny', 'grant.block'],
    ];
    for (const [name, grant, overrides, effect, reason] of cases) {
      it(name, () => {
        const decision = evaluate([policy('p', { grant })], overrides);
        assert.equal(decision.effect, effect);
        assert.equal(decision.failed[0]?.reason, reason);
        assert.equal(decision.outcomes[0]?.satisfied, effect === 'allow');
      });
    }

    it('lists every failed control, the decisive one first', () => {
      const decision = evaluate([policy('p', { grant: { mfa: true, claims: [hr] } })]);
      assert.deepEqual(decision.failed[0]?.reasons, ['grant.claims:department', 'grant.mfa_missing']);
      assert.equal(decision.failed[0]?.remedy, 'contact-admin');
      const one = evaluate([policy('p', { grant: { block: true, mfa: true, operator: 'one' } })]);
      assert.deepEqual(one.failed[0]?.reasons, ['grant.mfa_missing', 'grant.block']);
    });
  });

  describe('several policies', () => {
    it('a block beats a step-up', () => {
      const decision = evaluate([policy('mfa'), policy('risky', { conditions: { signInRisk: ['none'] }, grant: { block: true } })]);
      assert.equal(decision.effect, 'deny');
      assert.equal(decision.stepUp, undefined);
      assert.deepEqual(
        decision.failed.map((outcome) => [outcome.policy, outcome.reason]),
        [
          ['mfa', 'grant.mfa_missing'],
          ['risky', 'grant.block'],
        ],
      );
    });

    it('a failed claims grant beats a step-up', () => {
      const decision = evaluate([policy('finance-only', { grant: { claims: [{ claim: 'department', equals: 'hr' }] } }), policy('mfa')]);
      assert.equal(decision.effect, 'deny');
      assert.deepEqual(
        decision.failed.map((outcome) => outcome.remedy),
        ['contact-admin', 'sign-in-with-mfa'],
      );
    });

    it('each policy applies on its own conditions', () => {
      const policies = [
        policy('admin-mfa', { conditions: { paths: ['/admin/'] } }),
        policy('api-block', { conditions: { clientApps: ['api'] }, grant: { block: true } }),
        policy('risky-users', { conditions: { userRisk: ['high'] }, grant: { block: true } }),
        policy('finance-claims', { conditions: { claims: [{ claim: 'department', equals: 'finance' }] }, grant: { claims: [{ claim: 'level', in: [2, 3] }] } }),
      ];
      const at = (overrides: FactsOverrides) => {
        const decision = evaluate(policies, overrides);
        return [decision.effect, decision.failed.map((outcome) => outcome.policy).join(',')];
      };
      const level3 = { claims: { department: 'finance', level: 3 } };
      assert.deepEqual(at({ user: level3 }), ['allow', '']);
      assert.deepEqual(at({ user: { claims: { department: 'hr' } } }), ['allow', '']);
      assert.deepEqual(at({ user: { claims: { department: 'finance', level: 1 } } }), ['deny', 'finance-claims']);
      assert.deepEqual(at({ user: level3, path: '/admin/users' }), ['step-up', 'admin-mfa']);
      assert.deepEqual(at({ user: { ...level3, ...mfaUser }, path: '/Admin//users' }), ['allow', '']);
      assert.deepEqual(at({ user: level3, clientApp: 'api' }), ['deny', 'api-block']);
      assert.deepEqual(at({ user: level3, userRisk: 'high', path: '/admin/' }), ['deny', 'admin-mfa,risky-users']);
    });

    it('reports the outcomes in policy order, with what matched', () => {
      const decision = evaluate(
        [
          policy('staff-corp-admin', { conditions: { groups: { include: ['staff'] }, locations: { include: ['corporate'] }, paths: ['/admin/'] } }),
          policy('everyone-browser', {
            conditions: { users: { include: ['*'] }, clientApps: ['browser'], signInRisk: ['none', 'low'] },
            grant: { claims: [{ claim: 'department', contains: 'finance' }] },
          }),
          policy('alice-excluded', { conditions: { users: { include: ['*'], exclude: ['ALICE@example.com'] } }, grant: { block: true } }),
        ],
        // Only a verified email can exclude.
        { clientIp: '10.1.2.3', path: '/admin/', user: { emailVerified: true } },
      );
      assert.deepEqual(
        decision.outcomes.map(({ policy: name, applied, satisfied, reason, matched }) => ({ name, applied, satisfied, reason, matched })),
        [
          {
            name: 'staff-corp-admin',
            applied: true,
            satisfied: false,
            reason: 'grant.mfa_missing',
            matched: ['groups:staff', 'location:corporate', 'path:/admin/'],
          },
          { name: 'everyone-browser', applied: true, satisfied: true, reason: 'grant.satisfied', matched: ['users:*', 'clientApp:browser', 'signInRisk:none'] },
          { name: 'alice-excluded', applied: false, satisfied: true, reason: 'condition.users.exclude:ALICE@example.com', matched: [] },
        ],
      );
    });

    it('a condition that fails is named even when others match', () => {
      const decision = evaluate([policy('p', { conditions: { groups: { include: ['staff'] }, locations: { include: ['corporate'] }, paths: ['/admin/'] } })], {
        path: '/admin/',
      });
      assert.equal(decision.outcomes[0]?.reason, 'condition.location:not_included');
      assert.deepEqual(decision.outcomes[0]?.matched, ['groups:staff', 'path:/admin/']);
    });
  });

  describe('report-only', () => {
    const cases: readonly [string, Policy, FactsOverrides, string][] = [
      ['block', policy('p', { state: 'report-only', grant: { block: true } }), {}, 'grant.block'],
      ['MFA', policy('p', { state: 'report-only' }), {}, 'grant.mfa_missing'],
      ['claims', policy('p', { state: 'report-only', grant: { claims: [{ claim: 'department', equals: 'hr' }] } }), {}, 'grant.claims:department'],
      ['sign-in frequency', policy('p', { state: 'report-only', grant: {}, session: { signInFrequency: 10 } }), {}, 'session.sign_in_frequency'],
    ];
    for (const [name, reportOnly, overrides, reason] of cases) {
      it(`a failing ${name} policy is reported with its would-be result and changes nothing`, () => {
        const alone = evaluate([reportOnly], overrides);
        assert.equal(alone.effect, 'allow');
        assert.deepEqual(alone.failed, []);
        assert.equal(alone.stepUp, undefined);
        assert.equal(alone.outcomes[0]?.state, 'report-only');
        assert.equal(alone.outcomes[0]?.applied, true);
        assert.equal(alone.outcomes[0]?.satisfied, false);
        assert.equal(alone.outcomes[0]?.reason, reason);
        assert.ok(alone.outcomes[0]?.remedy);
        // Beside enforced policies, the decision is the one they make alone.
        for (const enforced of [
          [],
          [policy('mfa')],
          [policy('block', { grant: { block: true } })],
          [policy('fresh', { grant: {}, session: { signInFrequency: 3600 } })],
        ]) {
          const without = evaluate(enforced, overrides);
          const withIt = evaluate([...enforced, reportOnly], overrides);
          assert.deepEqual({ ...withIt, outcomes: withIt.outcomes.slice(0, enforced.length) }, without);
        }
      });
    }

    it('a report-only persistent-browser control does not clear persistentAllowed', () => {
      assert.equal(evaluate([policy('p', { state: 'report-only', grant: {}, session: { persistentBrowser: 'never' } })]).persistentAllowed, true);
    });
  });

  describe('persistent browser session', () => {
    const never = (conditions: Policy['conditions'] = {}) => policy('no-persist', { conditions, grant: {}, session: { persistentBrowser: 'never' } });

    it('is forbidden by an applied policy', () => assert.equal(evaluate([never()]).persistentAllowed, false));
    it('is forbidden even when the decision is a denial', () => {
      const decision = evaluate([never(), policy('block', { grant: { block: true } })]);
      assert.equal(decision.effect, 'deny');
      assert.equal(decision.persistentAllowed, false);
    });
    it('is allowed when that policy does not apply', () => assert.equal(evaluate([never({ locations: { include: ['corporate'] } })]).persistentAllowed, true));
    it('is allowed when the policy says allowed', () => {
      assert.equal(evaluate([policy('p', { grant: {}, session: { persistentBrowser: 'allowed' } })]).persistentAllowed, true);
    });
  });

  it('is pure: frozen facts, the same answer every time', () => {
    const subject = engine([policy('mfa', { conditions: { paths: ['/admin/'], locations: { exclude: ['corporate'] } } })]);
    const input = facts({ path: '/admin/x' });
    Object.freeze(input.user.claims);
    Object.freeze(input.user);
    Object.freeze(input);
    const first = subject.evaluate(input);
    assert.deepEqual(subject.evaluate(input), first);
    assert.equal(first.effect, 'step-up');
  });
});
