import assert from 'node:assert/strict';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import { reloadableChanges, restartOnlyChanges } from '../../../src/gateway/config-diff.ts';
import {
  BODY_MIN_RATE_BYTES_PER_SECOND,
  BODY_RATE_GRACE_SECONDS,
  BODY_RATE_WINDOW_SECONDS,
  BODY_TIMEOUT_SECONDS,
  CONNECTIONS_PER_IP,
} from '../../../src/limits.ts';
import { configIssues } from '../../support/config-issues.ts';

const SECRET = 'a-very-long-session-secret-of-at-least-32-chars';

function config(limits: Record<string, unknown> | undefined): Record<string, unknown> {
  return {
    identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret: 's3cret' },
    session: { secrets: [{ id: 1, secret: SECRET }] },
    apps: [{ id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' }],
    ...(limits === undefined ? {} : { limits }),
  };
}

describe('config: limits.body and limits.connections', () => {
  it('defaults to the named bounds', () => {
    const parsed = parseGatewayConfig(config(undefined));
    assert.deepEqual(parsed.limits.body, {
      minRate: BODY_MIN_RATE_BYTES_PER_SECOND,
      window: BODY_RATE_WINDOW_SECONDS,
      grace: BODY_RATE_GRACE_SECONDS,
      timeout: BODY_TIMEOUT_SECONDS,
    });
    assert.deepEqual(parsed.limits.connections, { perIp: CONNECTIONS_PER_IP });
  });

  it('takes durations, false to turn a body bound off, and 0 to turn the connection cap off; a parsed one parses again unchanged', () => {
    const parsed = parseGatewayConfig(config({ body: { minRate: 500, window: '30s', grace: '1m', timeout: false }, connections: { perIp: 0 } }));
    assert.deepEqual(parsed.limits.body, { minRate: 500, window: 30, grace: 60, timeout: false });
    assert.equal(parsed.limits.connections.perIp, 0);
    assert.deepEqual(parseGatewayConfig(parsed), parsed);
    assert.equal(parseGatewayConfig(config({ body: { minRate: false } })).limits.body.minRate, false);
  });

  it('refuses bounds out of range, naming the key', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ body: { minRate: 0 } }, 'limits.body.minRate'],
      [{ body: { minRate: 1.5 } }, 'limits.body.minRate'],
      [{ body: { minRate: true } }, 'limits.body.minRate'],
      [{ body: { window: '2h' } }, 'limits.body.window'],
      [{ body: { grace: 0 } }, 'limits.body.grace'],
      [{ body: { timeout: '8d' } }, 'limits.body.timeout'],
      [{ body: { timeout: true } }, 'limits.body.timeout'],
      [{ body: { rate: 5 } }, 'limits.body'],
      [{ connections: { perIp: -1 } }, 'limits.connections.perIp'],
      [{ connections: { perIp: false } }, 'limits.connections.perIp'],
    ];
    for (const [limits, key] of cases) {
      const issues = configIssues(config(limits));
      assert.ok(
        issues.some((issue) => issue.startsWith(key)),
        `${JSON.stringify(limits)}: ${issues.join('; ')}`,
      );
    }
  });

  it('is applied by a reload, without a restart', () => {
    const before = parseGatewayConfig(config(undefined));
    const after = parseGatewayConfig(config({ body: { minRate: 4096 }, connections: { perIp: 50 } }));
    assert.deepEqual(reloadableChanges(before, after), ['limits.body', 'limits.connections']);
    assert.deepEqual(restartOnlyChanges(before, after), []);
  });
});
