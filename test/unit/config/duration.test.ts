import assert from 'node:assert/strict';
import { parseGatewayConfig } from '../../../src/config/parse.ts';

const SECRET = 'a-very-long-session-secret-of-at-least-32-chars';

/** A gateway configuration with one duration of each section set to `value`. */
function withDurations(value: unknown): Record<string, unknown> {
  return {
    identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret: 's3cret' },
    session: { secrets: [{ id: 1, secret: SECRET }], idleTimeout: value },
    risk: { failedSignIns: { window: value } },
    audit: { webhook: { url: 'https://siem.example.com/events', flushInterval: value } },
    apps: [
      {
        id: 'wiki',
        externalUrl: 'https://wiki.example.com',
        internalUrl: 'http://10.0.0.5:8080',
        policies: [{ name: 'fresh', grant: {}, session: { signInFrequency: value } }],
      },
    ],
  };
}

function issuesOf(input: unknown): string[] {
  try {
    parseGatewayConfig(input);
  } catch (error) {
    return [...(error as { issues: readonly string[] }).issues];
  }
  assert.fail('config was accepted');
}

describe('durations in the configuration', () => {
  it('are read the same way in every section', () => {
    const config = parseGatewayConfig(withDurations('30s'));
    assert.equal(config.session.idleTimeout, 30);
    assert.equal(config.risk.failedSignIns.window, 30);
    assert.equal(config.audit.webhook?.flushInterval, 30);
    assert.equal(config.apps[0]?.policies[0]?.session?.signInFrequency, 30);
  });

  it('are refused with the same words in every section, policies included (they once left out the units)', () => {
    const issues = issuesOf(withDurations('2 weeks'));
    const words = 'must be a duration such as "%s" (units s, m, h, d) or a positive whole number of seconds';
    for (const [key, example] of [
      ['session.idleTimeout', '1h'],
      ['risk.failedSignIns.window', '15m'],
      ['audit.webhook.flushInterval', '1s'],
      ['apps[0].policies[0].session.signInFrequency', '1h'],
    ] as const) {
      const issue = issues.find((text) => text.startsWith(`${key}:`));
      assert.ok(issue?.includes(words.replace('%s', example)), `${key}: ${issue ?? 'no issue'}\nin:\n${issues.join('\n')}`);
    }
  });
});
