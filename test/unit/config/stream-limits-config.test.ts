import assert from 'node:assert/strict';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import { APP_STREAM_SHARE_PERCENT, WEBSOCKET_IDLE_TIMEOUT_SECONDS, WEBSOCKETS_PER_IP, WEBSOCKETS_PER_SESSION } from '../../../src/limits.ts';
import { configIssues } from '../../support/config-issues.ts';

const SECRET = 'a-very-long-session-secret-of-at-least-32-chars';

function config(streams: unknown, app: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret: 's3cret' },
    session: { secrets: [{ id: 1, secret: SECRET }] },
    apps: [{ id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080', ...app }],
    ...(streams === undefined ? {} : { limits: { streams } }),
  };
}

describe('config: limits.streams and apps[].limits', () => {
  it('defaults to the named bounds', () => {
    const parsed = parseGatewayConfig(config(undefined));
    assert.deepEqual(parsed.limits.streams, {
      appShare: { percent: APP_STREAM_SHARE_PERCENT },
      websocketsPerSession: WEBSOCKETS_PER_SESSION,
      websocketsPerIp: WEBSOCKETS_PER_IP,
      websocketIdleTimeout: WEBSOCKET_IDLE_TIMEOUT_SECONDS,
    });
    assert.deepEqual(parsed.apps[0]?.limits, {});
  });

  it('takes a share as a number of streams or a percentage, and an idle timeout as a duration', () => {
    const parsed = parseGatewayConfig(config({ appShare: '25%', websocketIdleTimeout: '2m' }, { limits: { streams: 200, websocketIdleTimeout: '30s' } }));
    assert.deepEqual(parsed.limits.streams.appShare, { percent: 25 });
    assert.equal(parsed.limits.streams.websocketIdleTimeout, 120);
    assert.deepEqual(parsed.apps[0]?.limits, { streams: { streams: 200 }, websocketIdleTimeout: 30 });
  });

  it('survives a second parse unchanged (reloads and createGateway take a parsed configuration)', () => {
    const once = parseGatewayConfig(config({ appShare: 300 }, { limits: { streams: '10%' } }));
    assert.deepEqual(parseGatewayConfig(once), once);
  });

  it('refuses shares and caps out of range, naming the key', () => {
    for (const share of [0, '0%', '101%', 1.5, 'half', '-5%']) {
      const issues = configIssues(config({ appShare: share }));
      assert.ok(
        issues.some((issue) => issue.startsWith('limits.streams.appShare')),
        `${String(share)}: ${issues.join('; ')}`,
      );
    }
    assert.ok(configIssues(config({ websocketsPerIp: 0 })).some((issue) => issue.startsWith('limits.streams.websocketsPerIp')));
    assert.ok(configIssues(config({ websocketIdleTimeout: '2d' })).some((issue) => issue.startsWith('limits.streams.websocketIdleTimeout')));
    assert.ok(configIssues(config(undefined, { limits: { streams: '0%' } })).some((issue) => issue.startsWith('apps[0].limits.streams')));
  });
});
