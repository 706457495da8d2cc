import assert from 'node:assert/strict';
import { GatehouseConfigError } from '../../../src/errors/index.ts';
import { createBuiltInRisk } from '../../../src/risk/built-in-risk.ts';
import { parseRiskSettings } from '../../../src/risk/parse-risk-settings.ts';
import { riskSettingsSchema } from '../../../src/risk/settings.ts';

function issuesOf(input: unknown): readonly string[] {
  try {
    parseRiskSettings(input);
  } catch (error) {
    assert.ok(error instanceof GatehouseConfigError);
    assert.equal(error.code, 'ERR_INVALID_CONFIG');
    return error.issues;
  }
  assert.fail('expected the settings to be refused');
}

describe('risk settings', function () {
  it('fills every default from nothing', function () {
    assert.deepEqual(parseRiskSettings(undefined), {
      enabled: true,
      networks: { ipv4Prefix: 24, ipv6Prefix: 48 },
      failedSignIns: { enabled: true, window: 900, perUser: { medium: 5, high: 10 }, perAddress: { medium: 20, high: 40 }, ipv6AddressPrefix: 64 },
      newNetwork: { enabled: true, level: 'low', rememberFor: 90 * 86_400 },
      manyNetworks: { enabled: true, window: 3600, medium: 3, high: 5 },
      memory: { maxUsers: 100_000, maxAddresses: 100_000, maxNetworksPerUser: 20 },
      customProvider: { onError: 'high', timeoutMs: 2000 },
    });
    assert.deepEqual(riskSettingsSchema.parse({}), parseRiskSettings({}));
  });

  it('reads windows as durations or seconds, and freezes the result', function () {
    const settings = parseRiskSettings({ failedSignIns: { window: '10m' }, manyNetworks: { window: 7200 }, newNetwork: { rememberFor: '30d' } });
    assert.equal(settings.failedSignIns.window, 600);
    assert.equal(settings.manyNetworks.window, 7200);
    assert.equal(settings.newNetwork.rememberFor, 30 * 86_400);
    assert.ok(Object.isFrozen(settings) && Object.isFrozen(settings.failedSignIns.perUser));
    assert.deepEqual(parseRiskSettings(settings), settings, 'parsed settings pass through unchanged');
  });

  it('names the key and the fix for each mistake', function () {
    assert.deepEqual(issuesOf({ failedSignIns: { perUser: { medium: 5, high: 5 } } }), ['risk.failedSignIns.perUser.high: high must be larger than medium']);
    assert.match(issuesOf({ failedSignIns: { window: '2 weeks' } })[0] ?? '', /^risk\.failedSignIns\.window: must be a duration such as "15m"/);
    assert.match(issuesOf({ failedSignIns: { window: '8d' } })[0] ?? '', /at most 604800 seconds/);
    assert.match(issuesOf({ memory: { maxUsers: 100_001 } })[0] ?? '', /^risk\.memory\.maxUsers: /, 'a bound may only be lowered');
    assert.deepEqual(issuesOf({ memory: { maxNetworksPerUser: 4 } }), [
      'risk.manyNetworks.high: must be at most memory.maxNetworksPerUser (4), or it can never be reached',
    ]);
    assert.match(issuesOf({ customProvider: { onError: 'low' } })[0] ?? '', /^risk\.customProvider\.onError: /);
    assert.match(issuesOf({ newNetwork: { level: 'none' } })[0] ?? '', /^risk\.newNetwork\.level: /);
    assert.match(issuesOf({ surprise: true })[0] ?? '', /surprise/, 'unknown keys are refused');
    assert.throws(() => createBuiltInRisk({ settings: { networks: { ipv4Prefix: 33 } } }), /risk\.networks\.ipv4Prefix/);
  });
});
