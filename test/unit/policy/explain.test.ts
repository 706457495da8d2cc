import assert from 'node:assert/strict';
import { createPolicyEngine } from '../../../src/policy/engine.ts';
import type { AccessFacts, ClientApp, Policy, Remedy, RiskLevel } from '../../../src/policy/types.ts';

/**
 * Every decision explains itself: across a grid of requests against a varied
 * policy set, every failing outcome has a machine reason, the conditions that
 * made it apply and a remedy; every policy that did not apply names the
 * condition that kept it out; and the effect follows from `failed`.
 */

const NOW = 1_700_000_000;
const REMEDIES: readonly Remedy[] = ['sign-in-with-mfa', 'sign-in-again', 'use-corporate-network', 'contact-admin'];
const REASON = /^(grant\.(block|mfa_missing|claims:[\w.:-]+)|session\.sign_in_frequency)$/;
const CONDITION = /^condition\.(users|groups|location|clientApp|signInRisk|userRisk|claims|path)[.:]/;

const policies: readonly Policy[] = [
  {
    name: 'offsite-block',
    state: 'on',
    conditions: { groups: { include: ['contractors'] }, locations: { include: ['any'], exclude: ['corporate'] } },
    grant: { block: true },
  },
  {
    name: 'admin-mfa',
    state: 'on',
    conditions: { paths: ['/admin/'], users: { exclude: ['breakglass@example.com'] } },
    grant: { mfa: true },
    session: { signInFrequency: 3600 },
  },
  { name: 'risky-block', state: 'on', conditions: { signInRisk: ['high'] }, grant: { block: true } },
  { name: 'medium-mfa', state: 'on', conditions: { signInRisk: ['medium'], clientApps: ['browser'] }, grant: { mfa: true } },
  { name: 'api-claims', state: 'on', conditions: { clientApps: ['api'] }, grant: { claims: [{ claim: 'scp', contains: 'api.read' }] } },
  {
    name: 'finance-all',
    state: 'report-only',
    conditions: { groups: { include: ['finance'] } },
    grant: { mfa: true, claims: [{ claim: 'department', equals: 'finance' }] },
  },
  {
    name: 'mfa-or-scope',
    state: 'on',
    conditions: { paths: ['/admin/'], clientApps: ['api'] },
    grant: { mfa: true, claims: [{ claim: 'scp', contains: 'admin' }], operator: 'one' },
  },
  { name: 'user-risk', state: 'on', conditions: { userRisk: ['high'], locations: { include: ['2001:db8:bad::/48'] } }, grant: { block: true } },
  {
    name: 'no-persist',
    state: 'on',
    conditions: { users: { include: ['*'] }, groups: { exclude: ['staff'] } },
    grant: {},
    session: { persistentBrowser: 'never' },
  },
];

const engine = createPolicyEngine({ policies, namedLocations: { corporate: ['10.0.0.0/8', '2001:db8:c0::/48'] }, mfa: { amr: ['mfa'], acr: [] } });

const users: readonly AccessFacts['user'][] = [
  { sub: 'u-1', email: 'staff@example.com', groups: ['staff'], amr: ['pwd'], authTime: NOW - 60, claims: {} },
  {
    sub: 'u-2',
    email: 'con@example.com',
    groups: ['contractors', 'finance'],
    amr: ['pwd', 'mfa'],
    authTime: NOW - 7200,
    claims: { department: 'sales', scp: 'api.read api.write' },
  },
  { sub: 'u-3', email: 'BreakGlass@example.com', emailVerified: true, groups: [], amr: ['pwd'], authTime: NOW - 10, claims: {} },
];
const ips = ['10.1.1.1', '203.0.113.9', '::ffff:10.1.1.1', '2001:db8:bad::1', '2001:db8:c0::1', ''];
const paths = ['/', '/admin/', '/ADMIN', '/x/..%2fadmin/', '/%zz'];
const apps: readonly ClientApp[] = ['browser', 'api'];
const risks: readonly RiskLevel[] = ['none', 'medium', 'high'];

describe('policy engine: every decision explains itself', () => {
  let decisions = 0;
  const effects = new Set<string>();
  const reasons = new Set<string>();

  for (const user of users) {
    it(`for ${user.sub}, across ${ips.length * paths.length * apps.length * risks.length * risks.length} requests`, () => {
      for (const clientIp of ips) {
        for (const path of paths) {
          for (const clientApp of apps) {
            for (const signInRisk of risks) {
              for (const userRisk of risks) {
                const facts: AccessFacts = { user, clientIp, clientApp, path, signInRisk, userRisk, now: NOW };
                const decision = engine.evaluate(facts);
                const where = JSON.stringify({ sub: user.sub, clientIp, path, clientApp, signInRisk, userRisk });
                decisions += 1;
                effects.add(decision.effect);

                assert.equal(decision.outcomes.length, policies.length, where);
                for (const outcome of decision.outcomes) {
                  assert.ok(outcome.reason.length > 0, where);
                  if (!outcome.applied) {
                    assert.match(outcome.reason, CONDITION, where);
                    assert.equal(outcome.satisfied, true, where);
                    assert.equal(outcome.remedy, undefined, where);
                  } else if (!outcome.satisfied) {
                    reasons.add(outcome.reason);
                    assert.match(outcome.reason, REASON, where);
                    assert.ok(outcome.matched.length > 0, where);
                    assert.ok(outcome.remedy !== undefined && REMEDIES.includes(outcome.remedy), where);
                    assert.equal(outcome.reasons?.[0], outcome.reason, where);
                  } else {
                    assert.equal(outcome.remedy, undefined, where);
                  }
                  // Labels come from the policy, never from the request.
                  for (const label of [outcome.reason, ...outcome.matched]) assert.ok(!label.includes('%') && !label.includes('..'), `${where} ${label}`);
                }

                const enforcedFailures = decision.outcomes.filter((outcome) => outcome.state === 'on' && outcome.applied && !outcome.satisfied);
                assert.deepEqual(decision.failed, enforcedFailures, where);
                assert.equal(decision.effect === 'allow', decision.failed.length === 0, where);
                assert.equal(decision.effect === 'step-up', decision.stepUp !== undefined, where);
                if (decision.effect === 'step-up') {
                  assert.ok(
                    decision.failed.every((outcome) => outcome.remedy === 'sign-in-with-mfa' || outcome.remedy === 'sign-in-again'),
                    where,
                  );
                }
                if (decision.effect === 'deny') {
                  assert.ok(
                    decision.failed.some((outcome) => outcome.remedy === 'contact-admin' || outcome.remedy === 'use-corporate-network'),
                    where,
                  );
                }
              }
            }
          }
        }
      }
    });
  }

  after(() => {
    // The grid is only a test if it reached every kind of answer.
    assert.equal(decisions, users.length * ips.length * paths.length * apps.length * risks.length * risks.length);
    assert.deepEqual([...effects].sort(), ['allow', 'deny', 'step-up']);
    assert.deepEqual([...reasons].sort(), ['grant.block', 'grant.claims:department', 'grant.claims:scp', 'grant.mfa_missing', 'session.sign_in_frequency']);
  });
});
