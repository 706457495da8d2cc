import assert from 'node:assert/strict';
import { matchLocation } from '../../../src/policy/criteria/location.ts';
import type { CompiledLocationCondition } from '../../../src/policy/criteria/location.ts';
import { parseIp } from '../../../src/ip/address.ts';
import { parseCidr } from '../../../src/ip/cidr.ts';
import { compileNamedLocations, resolveLocation } from '../../../src/policy/locations.ts';

describe('policy: IP addresses and ranges', () => {
  for (const [text, family, address] of [
    ['10.1.2.3', 'ipv4', '10.1.2.3'],
    ['2001:db8::1', 'ipv6', '2001:db8::1'],
    ['2001:DB8::1', 'ipv6', '2001:db8::1'],
    ['::1', 'ipv6', '::1'],
    // IPv4-mapped IPv6, in every spelling, is the IPv4 address it carries.
    ['::ffff:10.1.2.3', 'ipv4', '10.1.2.3'],
    ['::FFFF:10.1.2.3', 'ipv4', '10.1.2.3'],
    ['::ffff:a01:203', 'ipv4', '10.1.2.3'],
    ['0:0:0:0:0:ffff:10.1.2.3', 'ipv4', '10.1.2.3'],
    ['0000:0000:0000:0000:0000:ffff:0a01:0203', 'ipv4', '10.1.2.3'],
  ] as const) {
    it(`reads ${text} as ${family} ${address}`, () => {
      const ip = parseIp(text);
      assert.equal(ip?.family, family);
      assert.equal(ip.address, address);
    });
  }

  for (const text of ['', 'unknown', '10.1.2', '10.1.2.3.4', '010.1.2.3', '256.1.1.1', 'fe80::1%eth0', '1:2:3:4:5:6:7:8:9', '::ffff:10.1.2', ' 10.1.2.3']) {
    it(`refuses the address ${JSON.stringify(text)}`, () => assert.equal(parseIp(text), undefined));
  }

  it('expands IPv6 to 16 bytes, with an embedded IPv4 tail', () => {
    assert.deepEqual([...(parseIp('2001:db8::1.2.3.4')?.bytes ?? [])], [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    assert.deepEqual([...(parseIp('1::')?.bytes ?? [])], [0, 1, ...new Array<number>(14).fill(0)]);
  });

  for (const [text, network, prefix] of [
    ['10.0.0.0/8', '10.0.0.0', 8],
    ['192.0.2.7', '192.0.2.7', 32],
    ['0.0.0.0/0', '0.0.0.0', 0],
    ['2001:db8::/32', '2001:db8::', 32],
    ['2001:db8::5', '2001:db8::5', 128],
    ['::/0', '::', 0],
    ['::ffff:10.0.0.0/104', '10.0.0.0', 8],
  ] as const) {
    it(`parses the range ${text}`, () => {
      const range = parseCidr(text);
      assert.ok(typeof range !== 'string', typeof range === 'string' ? range : '');
      assert.equal(range.network.address, network);
      assert.equal(range.prefix, prefix);
    });
  }

  for (const [text, problem] of [
    ['10.0.0.0/33', /prefix length outside/],
    ['2001:db8::/129', /prefix length outside/],
    ['10.0.0.0/', /not a number/],
    ['10.0.0.0/8/8', /not a number/],
    ['10.0.0.0/-1', /not a number/],
    ['10.0.0.0/0x8', /not a number/],
    ['10.0.0.1/8', /host bits/],
    ['2001:db8::1/32', /host bits/],
    ['::ffff:10.0.0.0/95', /prefix length outside/],
    ['corp.example.com/24', /not an IPv4 or IPv6 address/],
    ['10.0.0.256/24', /not an IPv4 or IPv6 address/],
  ] as const) {
    it(`refuses the range ${text}`, () => {
      const range = parseCidr(text);
      assert.ok(typeof range === 'string');
      assert.match(range, problem);
    });
  }
});

describe('policy: location condition', () => {
  const issues: string[] = [];
  const named = compileNamedLocations(
    {
      corporate: ['10.0.0.0/8', '2001:db8:c0::/48'],
      vpn: ['198.51.100.0/24'],
      lab: ['10.9.0.0/16'],
    },
    issues,
  );
  const ref = (entry: string) => {
    const resolved = resolveLocation(entry, named, 'test', issues);
    assert.ok(resolved, entry);
    return resolved;
  };
  const condition = (include: readonly string[] | undefined, exclude: readonly string[] = []): CompiledLocationCondition => ({
    ...(include && { include: include.map(ref) }),
    exclude: exclude.map(ref),
  });
  after(() => assert.deepEqual(issues, []));

  const cases: readonly [string, CompiledLocationCondition, string, boolean, string][] = [
    ['include named, IPv4 inside', condition(['corporate']), '10.1.2.3', true, 'location:corporate'],
    ['include named, IPv4 outside', condition(['corporate']), '203.0.113.5', false, 'location:not_included'],
    ['include named, IPv6 inside', condition(['corporate']), '2001:db8:c0:1::9', true, 'location:corporate'],
    ['include named, IPv6 outside', condition(['corporate']), '2001:db8:c1::9', false, 'location:not_included'],
    ['include named, mapped IPv4 inside', condition(['corporate']), '::ffff:10.1.2.3', true, 'location:corporate'],
    ['include named, mapped IPv4 (hex) inside', condition(['corporate']), '::ffff:a01:203', true, 'location:corporate'],
    ['include second named', condition(['corporate', 'vpn']), '198.51.100.20', true, 'location:vpn'],
    ['include inline CIDR', condition(['203.0.113.0/24']), '203.0.113.5', true, 'location:203.0.113.0/24'],
    ['include inline IPv6 CIDR', condition(['2001:db8:f::/48']), '2001:db8:f::1', true, 'location:2001:db8:f::/48'],
    ['include inline host', condition(['203.0.113.5']), '203.0.113.5', true, 'location:203.0.113.5'],
    ['include inline host, other', condition(['203.0.113.5']), '203.0.113.6', false, 'location:not_included'],
    ['include any', condition(['any']), '203.0.113.5', true, 'location:any'],
    ['exclude only, outside', condition(undefined, ['corporate']), '203.0.113.5', true, 'location:outside:corporate'],
    ['exclude only, inside', condition(undefined, ['corporate']), '10.1.2.3', false, 'location.exclude:corporate'],
    ['exclude only, mapped inside', condition(undefined, ['corporate']), '::ffff:10.1.2.3', false, 'location.exclude:corporate'],
    ['any but corporate, outside', condition(['any'], ['corporate', 'vpn']), '203.0.113.5', true, 'location:outside:corporate,vpn'],
    ['any but corporate, inside vpn', condition(['any'], ['corporate', 'vpn']), '198.51.100.1', false, 'location.exclude:vpn'],
    ['exclude beats include (nested range)', condition(['corporate'], ['lab']), '10.9.1.1', false, 'location.exclude:lab'],
    ['include with exclude, outside the exclude', condition(['corporate'], ['lab']), '10.8.1.1', true, 'location:corporate'],
    ['exclude inline IPv6', condition(['any'], ['2001:db8:c0::/48']), '2001:db8:c0::1', false, 'location.exclude:2001:db8:c0::/48'],
    // An unknown address is inside every include and outside every exclude: the policy applies.
    ['unknown address, specific include', condition(['corporate']), '', true, 'location:unknown'],
    ['unknown address, exclude', condition(undefined, ['corporate']), 'garbage', true, 'location:unknown'],
    ['unknown address, exclude any', condition(undefined, ['any']), '', false, 'location.exclude:any'],
  ];
  for (const [name, cond, ip, ok, reason] of cases) {
    it(name, () => assert.deepEqual(matchLocation(cond, parseIp(ip)), { ok, reason }));
  }

  it('refuses unknown named locations and bad ranges, naming them', () => {
    const found: string[] = [];
    assert.equal(resolveLocation('branch', named, 'policies[0].conditions.locations.include', found), undefined);
    resolveLocation('10.0.0.1/8', named, 'policies[1].conditions.locations.exclude', found);
    compileNamedLocations({ any: ['10.0.0.0/8'], empty: [], bad: ['10.0.0.0/40'] }, found);
    assert.equal(found.length, 5);
    assert.match(found[0] ?? '', /policies\[0\]\.conditions\.locations\.include: unknown named location "branch"/);
    assert.match(found[1] ?? '', /policies\[1\].*"10\.0\.0\.1\/8" has host bits set/);
    assert.match(found[2] ?? '', /namedLocations\.any: "any" is reserved/);
    assert.match(found[3] ?? '', /namedLocations\.empty: list at least one/);
    assert.match(found[4] ?? '', /namedLocations\.bad: "10\.0\.0\.0\/40"/);
  });
});
