import assert from 'node:assert/strict';
import { checkBlock } from '../../../src/policy/grants/block.ts';
import { checkClaims } from '../../../src/policy/grants/claims.ts';
import { checkMfa } from '../../../src/policy/grants/mfa.ts';
import { checkSessionControls } from '../../../src/policy/session-controls.ts';
import type { AccessFacts, MfaSettings, PolicySessionControls } from '../../../src/policy/types.ts';

type User = AccessFacts['user'];

function user(overrides: Partial<User> = {}): User {
  return { sub: 'u-1', groups: [], amr: ['pwd'], authTime: 0, claims: {}, ...overrides };
}

describe('policy: block grant', () => {
  it('never holds', () => assert.deepEqual(checkBlock(), { control: 'block', ok: false, reason: 'grant.block' }));
});

describe('policy: MFA grant', () => {
  const settings: MfaSettings = { amr: ['mfa', 'hwk'], acr: ['urn:example:mfa', 'phr'] };
  const cases: readonly [string, Partial<User>, MfaSettings, boolean][] = [
    ['amr has a configured value', { amr: ['pwd', 'mfa'] }, settings, true],
    ['amr has another configured value', { amr: ['hwk'] }, settings, true],
    ['amr has only single factors', { amr: ['pwd', 'otp'] }, settings, false],
    ['amr is empty', { amr: [] }, settings, false],
    ['acr is a configured value', { amr: ['pwd'], acr: 'phr' }, settings, true],
    ['acr is another value', { amr: ['pwd'], acr: 'urn:example:pwd' }, settings, false],
    ['acr comparison is exact', { amr: ['pwd'], acr: 'PHR' }, settings, false],
    ['amr comparison is exact', { amr: ['MFA'] }, settings, false],
    ['no acr configured: acr alone is not enough', { amr: ['pwd'], acr: 'phr' }, { amr: ['mfa'], acr: [] }, false],
    ['no amr configured: amr alone is not enough', { amr: ['mfa'] }, { amr: [], acr: ['phr'] }, false],
    ['a malformed amr is no MFA', { amr: 'mfa' as unknown as string[] }, settings, false],
  ];
  for (const [name, overrides, mfa, ok] of cases) {
    it(name, () => assert.deepEqual(checkMfa(user(overrides), mfa), { control: 'mfa', ok, reason: ok ? 'grant.mfa' : 'grant.mfa_missing' }));
  }
});

describe('policy: claims grant', () => {
  const claims = { department: 'finance', roles: ['reader'], clearance: 2 };
  const cases: readonly [string, Parameters<typeof checkClaims>[0], boolean, string][] = [
    ['one holding match', [{ claim: 'department', equals: 'finance' }], true, 'grant.claims'],
    [
      'every match holds',
      [
        { claim: 'department', in: ['finance', 'hr'] },
        { claim: 'roles', contains: 'reader' },
      ],
      true,
      'grant.claims',
    ],
    [
      'the first failing claim is named',
      [
        { claim: 'department', equals: 'finance' },
        { claim: 'clearance', in: [3, 4] },
        { claim: 'roles', contains: 'x' },
      ],
      false,
      'grant.claims:clearance',
    ],
    ['a missing claim fails', [{ claim: 'costCenter', equals: '42' }], false, 'grant.claims:costCenter'],
  ];
  for (const [name, matches, ok, reason] of cases) {
    it(name, () => assert.deepEqual(checkClaims(matches, claims), { control: 'claims', ok, reason }));
  }
});

describe('policy: session controls', () => {
  const now = 1_700_000_000;
  const cases: readonly [string, PolicySessionControls | undefined, number | undefined, boolean, string, boolean][] = [
    ['none', undefined, now - 10 ** 6, true, 'session', true],
    ['frequency: fresh', { signInFrequency: 3600 }, now - 60, true, 'session', true],
    ['frequency: exactly at the limit', { signInFrequency: 3600 }, now - 3600, true, 'session', true],
    ['frequency: one second over', { signInFrequency: 3600 }, now - 3601, false, 'session.sign_in_frequency', true],
    ['frequency: authenticated in the future (clock skew)', { signInFrequency: 3600 }, now + 30, true, 'session', true],
    [
      'frequency: unknown auth time (no auth_time in the ID token) counts as too old',
      { signInFrequency: 3600 },
      undefined,
      false,
      'session.sign_in_frequency',
      true,
    ],
    ['frequency: unknown auth time is fine without a frequency', undefined, undefined, true, 'session', true],
    ['frequency: no auth time counts as too old', { signInFrequency: 3600 }, Number.NaN, false, 'session.sign_in_frequency', true],
    ['frequency: non-finite auth time counts as too old', { signInFrequency: 3600 }, Number.POSITIVE_INFINITY, false, 'session.sign_in_frequency', true],
    ['persistent browser never', { persistentBrowser: 'never' }, now, true, 'session', false],
    ['persistent browser allowed', { persistentBrowser: 'allowed' }, now, true, 'session', true],
    ['both, too old', { signInFrequency: 60, persistentBrowser: 'never' }, now - 61, false, 'session.sign_in_frequency', false],
  ];
  for (const [name, session, authTime, ok, reason, persistentAllowed] of cases) {
    it(name, () => {
      const result = checkSessionControls(session, authTime, now);
      assert.equal(result.ok, ok);
      assert.equal(result.reason, reason);
      assert.equal(result.persistentAllowed, persistentAllowed);
      assert.equal(result.signInFrequency, session?.signInFrequency);
    });
  }
});
