import assert from 'node:assert/strict';
import type { RiskProvider } from '../../../src/policy/types.ts';
import { createBuiltInRisk } from '../../../src/risk/built-in-risk.ts';
import { combineRisk } from '../../../src/risk/combine-risk.ts';
import { safeRiskProvider, type RiskFailureReason } from '../../../src/risk/safe-risk-provider.ts';

const input = { sub: 'alice', clientIp: '198.51.100.7', userAgent: 'test', app: 'wiki' };
const constant =
  (userRisk: 'none' | 'low' | 'medium' | 'high', signInRisk: 'none' | 'low' | 'medium' | 'high'): RiskProvider =>
  () =>
    Promise.resolve({ userRisk, signInRisk });

describe('risk: a custom provider made safe', function () {
  it('passes a good answer through', async function () {
    assert.deepEqual(await safeRiskProvider(constant('low', 'medium'))(input), { userRisk: 'low', signInRisk: 'medium' });
  });

  it('fails closed to high by default: a throwing, rejecting or nonsensical provider does not lower the risk', async function () {
    const failures: RiskFailureReason[] = [];
    const onFailure = ({ reason }: { reason: RiskFailureReason }) => failures.push(reason);
    const throwing: RiskProvider = () => {
      throw new Error('boom');
    };
    const rejecting: RiskProvider = () => Promise.reject(new Error('service down'));
    const nonsense = (() => Promise.resolve({ userRisk: 'HIGH', signInRisk: 'none' })) as unknown as RiskProvider;
    const empty = (() => Promise.resolve(undefined)) as unknown as RiskProvider;
    for (const provider of [throwing, rejecting, nonsense, empty]) {
      assert.deepEqual(await safeRiskProvider(provider, { onFailure })(input), { userRisk: 'high', signInRisk: 'high' });
    }
    assert.deepEqual(failures, ['error', 'error', 'invalid_result', 'invalid_result']);
  });

  it('fails open to none when configured so', async function () {
    const rejecting: RiskProvider = () => Promise.reject(new Error('service down'));
    assert.deepEqual(await safeRiskProvider(rejecting, { onError: 'none' })(input), { userRisk: 'none', signInRisk: 'none' });
  });

  it('stops waiting for a slow provider after the timeout, and a late rejection goes nowhere', async function () {
    let rejectLate: (error: Error) => void = () => {};
    const slow: RiskProvider = () =>
      new Promise((_resolve, reject) => {
        rejectLate = reject;
      });
    const failures: { reason: RiskFailureReason }[] = [];
    const started = performance.now();
    const answer = await safeRiskProvider(slow, { timeoutMs: 50, onError: 'high', onFailure: (failure) => failures.push(failure) })(input);
    const waited = performance.now() - started;
    assert.deepEqual(answer, { userRisk: 'high', signInRisk: 'high' });
    assert.deepEqual(failures, [{ reason: 'timeout' }]);
    assert.ok(waited >= 45 && waited < 5000, `waited ${waited} ms`);
    rejectLate(new Error('too late')); // must not become an unhandled rejection
    await new Promise((resolve) => setImmediate(resolve));
  });

  it('survives a failure hook that throws', async function () {
    const provider = safeRiskProvider(() => Promise.reject(new Error('down')), {
      onFailure: () => {
        throw new Error('hook');
      },
    });
    assert.deepEqual(await provider(input), { userRisk: 'high', signInRisk: 'high' });
  });

  it('refuses nonsense options', function () {
    const ok = constant('none', 'none');
    assert.throws(() => safeRiskProvider(ok, { timeoutMs: 0 }), TypeError);
    assert.throws(() => safeRiskProvider(ok, { timeoutMs: 10_001 }), /1\.\.10000/);
    assert.throws(() => safeRiskProvider(ok, { onError: 'low' as 'none' }), /onError/);
    assert.throws(() => safeRiskProvider('nope' as unknown as RiskProvider), /function/);
  });
});

describe('risk: providers combined', function () {
  it('takes the highest level of each kind', async function () {
    const combined = combineRisk(constant('low', 'none'), constant('none', 'medium'), constant('none', 'low'));
    assert.deepEqual(await combined(input), { userRisk: 'low', signInRisk: 'medium' });
    assert.deepEqual(await combineRisk()(input), { userRisk: 'none', signInRisk: 'none' });
  });

  it('combines the built-in provider with a failing custom one per onError', async function () {
    const builtIn = createBuiltInRisk({ settings: { failedSignIns: { perUser: { medium: 1, high: 2 } } } });
    await builtIn.recordSignInFailure({ sub: 'alice', clientIp: '203.0.113.1' });
    const down: RiskProvider = () => Promise.reject(new Error('down'));
    assert.deepEqual(await combineRisk(builtIn.provider, safeRiskProvider(down, { onError: 'none' }))(input), { userRisk: 'none', signInRisk: 'medium' });
    assert.deepEqual(await combineRisk(builtIn.provider, safeRiskProvider(down))(input), { userRisk: 'high', signInRisk: 'high' });
    await assert.rejects(combineRisk(builtIn.provider, down)(input), /down/, 'an unwrapped failure is not hidden');
  });
});
