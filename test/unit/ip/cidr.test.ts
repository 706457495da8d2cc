import assert from 'node:assert/strict';
import { parseIp } from '../../../src/ip/address.ts';
import { blockListHas, blockListOf, parseCidr, type IpRange } from '../../../src/ip/cidr.ts';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import { AllowEntryError, parseAllowEntry } from '../../../src/connector/allow-list.ts';
import { createClientIpResolver } from '../../../src/request/client-ip.ts';
import type { IncomingMessage } from 'node:http';

const SECRET = 'a-very-long-session-secret-of-at-least-32-chars';

function range(text: string): IpRange {
  const parsed = parseCidr(text);
  if (typeof parsed === 'string') assert.fail(`${text}: ${parsed}`);
  return parsed;
}

function trustedProxyIssues(trustedProxies: string[]): string[] {
  try {
    parseGatewayConfig({
      identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret: 's3cret' },
      session: { secrets: [{ id: 1, secret: SECRET }] },
      apps: [{ id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' }],
      trustedProxies,
    });
    return [];
  } catch (error) {
    return [...(error as { issues: readonly string[] }).issues];
  }
}

describe('CIDR ranges (one parser for trusted proxies, locations and the connector allow-list)', function () {
  it('compiles ranges into a BlockList that holds every spelling of an address in them', function () {
    const list = blockListOf([range('10.0.0.0/8'), range('2001:db8::/32'), range('::ffff:192.168.0.0/112')]);
    for (const inside of ['10.1.2.3', '::ffff:10.1.2.3', '::ffff:a01:203', '2001:db8::1', '192.168.7.7']) {
      assert.ok(blockListHas(list, parseIp(inside)!), inside);
    }
    for (const outside of ['11.0.0.1', '2001:db9::1', '192.169.0.1']) assert.ok(!blockListHas(list, parseIp(outside)!), outside);
  });

  it('refuses host bits after the prefix at every edge: trusted proxies and --allow as policies already did', function () {
    assert.equal(parseCidr('10.0.0.1/8'), 'has host bits set after the prefix length');
    const issues = trustedProxyIssues(['10.0.0.0/8', '10.0.0.1/8', 'fe80::1%eth0']);
    assert.deepEqual(
      issues.map((issue) => issue.split(';')[0]),
      ['trustedProxies[1]: "10.0.0.1/8" has host bits set after the prefix length', 'trustedProxies[2]: "fe80::1%eth0" is not an IPv4 or IPv6 address'],
    );
    assert.throws(
      () => parseAllowEntry('10.0.0.5/8'),
      (error: unknown) => error instanceof AllowEntryError && /host bits/.test(error.message),
    );
    assert.throws(
      () => parseAllowEntry('[fd00::1/8]'),
      (error: unknown) => error instanceof AllowEntryError && /host bits/.test(error.message),
    );
  });

  it('trusts a proxy written as a mapped range for its IPv4 peers', function () {
    const resolve = createClientIpResolver(['::ffff:10.0.0.0/104']);
    const req = { socket: { remoteAddress: '::ffff:10.0.0.9' }, headers: { 'x-forwarded-for': '203.0.113.5' } } as unknown as IncomingMessage;
    assert.equal(resolve(req), '203.0.113.5');
  });
});
