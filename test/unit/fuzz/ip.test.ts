import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import fc from 'fast-check';
import { parseIp } from '../../../src/ip/address.ts';
import { blockListHas, blockListOf, parseCidr } from '../../../src/ip/cidr.ts';
import { networkOf } from '../../../src/ip/network-key.ts';
import { createClientIpResolver } from '../../../src/request/client-ip.ts';
import { fuzzTimeout, runs } from '../../support/fuzz-runs.ts';

/**
 * Addresses and ranges come from sockets, headers and configuration. Parsing junk never throws; a range holds
 * exactly the addresses a bit-by-bit model says it holds, in every spelling of IPv6 (compressed, upper case,
 * IPv4-mapped); and the client address is read from X-Forwarded-For only through trusted proxies.
 */

const JUNK = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.stringMatching(/^[0-9a-fA-F:./%x]{0,45}$/),
  fc.constantFrom(
    '1.2.3.4/33',
    '::ffff:1.2.3.4/95',
    '01.2.3.4',
    '1.2.3',
    '::1::',
    'fe80::1%eth0',
    '1.2.3.4 ',
    '[::1]',
    '0x7f.1',
    '1e0.0.0.1',
    '::/0',
    '0.0.0.0/0',
  ),
);

const V4 = fc.uint8Array({ minLength: 4, maxLength: 4 });
/** IPv6 bytes, biased towards zero runs (so compression is exercised) and the IPv4-mapped prefix. */
const V6 = fc.oneof(
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
  fc.tuple(fc.nat(15), fc.nat(15), fc.uint8Array({ minLength: 16, maxLength: 16 })).map(([from, to, bytes]) => {
    const out = Uint8Array.from(bytes);
    out.fill(0, Math.min(from, to), Math.max(from, to) + 1);
    return out;
  }),
  V4.map((v4) => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4])),
);

interface Spelling {
  readonly compress: boolean;
  readonly upper: boolean;
  readonly dottedTail: boolean;
}
const SPELLING: fc.Arbitrary<Spelling> = fc.record({ compress: fc.boolean(), upper: fc.boolean(), dottedTail: fc.boolean() });

function v4Text(bytes: Uint8Array): string {
  return [...bytes].join('.');
}

function v6Text(bytes: Uint8Array, spelling: Spelling): string {
  const groups: string[] = [];
  for (let index = 0; index < 16; index += 2) groups.push((((bytes[index] ?? 0) << 8) | (bytes[index + 1] ?? 0)).toString(16));
  let tail: string[] = [];
  if (spelling.dottedTail) {
    groups.splice(6, 2);
    tail = [v4Text(bytes.subarray(12))];
  }
  let text = [...groups, ...tail].join(':');
  if (spelling.compress) {
    // The longest run of zero groups (of two or more) becomes "::".
    let best: [number, number] | undefined;
    for (let start = 0; start < groups.length; start += 1) {
      let end = start;
      while (end < groups.length && groups[end] === '0') end += 1;
      if (end - start >= 2 && (best === undefined || end - start > best[1] - best[0])) best = [start, end];
    }
    if (best) text = `${groups.slice(0, best[0]).join(':')}::${[...groups.slice(best[1]), ...tail].join(':')}`;
  }
  return spelling.upper ? text.toUpperCase() : text;
}

/** IPv4-mapped IPv6 is its IPv4 address, as the code under test says. */
function effective(bytes: Uint8Array): Uint8Array {
  const mapped = bytes.length === 16 && bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? bytes.subarray(12) : bytes;
}

/**
 * Bit-by-bit membership. An IPv4 address checked against an IPv6 range is compared as its mapped form
 * (`::ffff:a.b.c.d`), as node:net's BlockList does: `::/0` holds every IPv4 address too.
 */
function modelContains(network: Uint8Array, prefix: number, given: Uint8Array): boolean {
  const address = network.length === 16 && given.length === 4 ? Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...given]) : given;
  if (network.length !== address.length) return false;
  for (let bit = 0; bit < prefix; bit += 1) {
    const mask = 0x80 >> (bit & 7);
    if (((network[bit >> 3] ?? 0) & mask) !== ((address[bit >> 3] ?? 0) & mask)) return false;
  }
  return true;
}

function masked(bytes: Uint8Array, prefix: number): Uint8Array {
  return bytes.map((byte, index) => {
    const left = prefix - index * 8;
    return left >= 8 ? byte : left <= 0 ? 0 : byte & (0xff << (8 - left)) & 0xff;
  });
}

/** A network address and prefix, sometimes sharing bits with the address it will be tested with. */
const CASE = fc.oneof(fc.tuple(V4, V4), fc.tuple(V6, V6)).chain(([network, address]) =>
  fc.tuple(
    fc.constant(network),
    fc.oneof(
      fc.constant(address),
      fc.nat(network.length).map((shared) => Uint8Array.from([...network.subarray(0, shared), ...address.subarray(shared)])),
    ),
    fc.integer({ min: 0, max: network.length * 8 }),
    SPELLING,
    SPELLING,
  ),
);

function text(bytes: Uint8Array, spelling: Spelling): string {
  return bytes.length === 4 ? v4Text(bytes) : v6Text(bytes, spelling);
}

function requestFrom(peer: string, headers: Record<string, string | string[]>): IncomingMessage {
  return { socket: { remoteAddress: peer }, headers } as unknown as IncomingMessage;
}

describe('fuzz: IP addresses, ranges and the client address', function () {
  this.timeout(fuzzTimeout(30_000));

  it('parsing junk never throws', () => {
    fc.assert(
      fc.property(JUNK, fc.integer({ min: -1, max: 200 }), (value, prefix) => {
        const ip = parseIp(value);
        if (ip) assert.equal(ip.bytes.length, ip.family === 'ipv4' ? 4 : 16);
        const range = parseCidr(value);
        assert.ok(typeof range === 'string' || range.prefix <= range.network.bytes.length * 8);
        const key = networkOf(value, Math.min(32, Math.max(0, prefix)), Math.min(128, Math.max(0, prefix)));
        assert.ok(key === undefined || key.includes('/'));
      }),
      runs(1500),
    );
  });

  it('every spelling of an address parses to the same bytes', () => {
    fc.assert(
      fc.property(fc.oneof(V4, V6), SPELLING, SPELLING, (bytes, a, b) => {
        const first = parseIp(text(bytes, a));
        const second = parseIp(text(bytes, b));
        assert.ok(first && second, text(bytes, a));
        assert.deepEqual([...first.bytes], [...effective(bytes)]);
        assert.deepEqual([...second.bytes], [...first.bytes]);
      }),
      runs(1000),
    );
  });

  it('range membership agrees with a bit-by-bit model', () => {
    fc.assert(
      fc.property(CASE, ([network, address, prefix, networkSpelling, addressSpelling]) => {
        const net = masked(network, prefix);
        const range = parseCidr(`${text(net, networkSpelling)}/${prefix}`);
        const ip = parseIp(text(address, addressSpelling));
        assert.ok(ip);
        const mappedNet = effective(net) !== net;
        if (mappedNet && prefix < 96) {
          // A mapped range shorter than the mapped prefix is refused: it would mix IPv4 and IPv6.
          assert.equal(typeof range, 'string');
          return;
        }
        assert.ok(typeof range !== 'string', `${text(net, networkSpelling)}/${prefix}: ${JSON.stringify(range)}`);
        const expected = modelContains(effective(net), mappedNet ? prefix - 96 : prefix, effective(address));
        assert.equal(blockListHas(blockListOf([range]), ip), expected, `${text(address, addressSpelling)} in ${text(net, networkSpelling)}/${prefix}`);
      }),
      runs(2000),
    );
  });

  it('a range with host bits set is refused', () => {
    fc.assert(
      fc.property(fc.oneof(V4, V6), fc.nat(127), (bytes, rawPrefix) => {
        const prefix = rawPrefix % (bytes.length * 8);
        fc.pre(!masked(bytes, prefix).every((byte, index) => byte === bytes[index]));
        fc.pre(effective(bytes) === bytes);
        assert.equal(typeof parseCidr(`${text(bytes, { compress: true, upper: false, dottedTail: false })}/${prefix}`), 'string');
      }),
      runs(500),
    );
  });

  it('an untrusted peer never chooses the client address; a trusted one is read right to left', () => {
    const trustedSets = fc.constantFrom(['10.0.0.0/8'], ['10.0.0.0/8', '2001:db8::/32'], ['127.0.0.1', '::1'], ['192.168.0.0/16', '172.16.0.0/12']);
    const addresses = fc.oneof(
      fc.constantFrom(
        '10.1.2.3',
        '10.255.0.1',
        '2001:db8::7',
        '127.0.0.1',
        '::1',
        '::ffff:10.0.0.9',
        '192.168.1.1',
        '172.16.0.5',
        '203.0.113.7',
        '198.51.100.1',
      ),
      V4.map(v4Text),
      V6.map((bytes) => v6Text(bytes, { compress: true, upper: false, dottedTail: false })),
    );
    const hop = fc.oneof({ weight: 4, arbitrary: addresses }, { weight: 1, arbitrary: JUNK.filter((value) => !value.includes(',')) });
    const headerSets = fc.record(
      {
        'x-forwarded-for': fc.oneof(
          fc.array(hop, { maxLength: 5 }).map((hops) => hops.join(', ')),
          fc.array(
            fc.array(hop, { maxLength: 3 }).map((h) => h.join(',')),
            { maxLength: 3 },
          ),
        ),
        forwarded: fc.array(hop, { maxLength: 3 }).map((hops) => hops.map((h) => `for="${h}"`).join(', ')),
        'x-real-ip': hop,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(trustedSets, addresses, headerSets, (trusted, peer, headers) => {
        const resolve = createClientIpResolver(trusted);
        const isTrusted = (address: string): boolean => {
          const ip = parseIp(address);
          return (
            ip !== undefined && trusted.some((entry) => blockListHas(blockListOf([parseCidr(entry) as Exclude<ReturnType<typeof parseCidr>, string>]), ip))
          );
        };
        const normalizedPeer = peer.startsWith('::ffff:') && parseIp(peer.slice(7))?.family === 'ipv4' ? peer.slice(7) : peer;
        const client = resolve(requestFrom(peer, headers));
        if (!isTrusted(peer)) {
          assert.equal(client, normalizedPeer, `untrusted ${peer} chose ${client}`);
          return;
        }
        // Through a trusted peer: the first hop from the right that is not a trusted proxy, or the peer when a hop is junk.
        const raw = headers['x-forwarded-for'];
        const hops = (Array.isArray(raw) ? raw.join(',') : (raw ?? ''))
          .split(',')
          .map((h) => h.trim())
          .filter((h) => h.length > 0)
          .map((h) => (h.startsWith('::ffff:') && parseIp(h.slice(7))?.family === 'ipv4' ? h.slice(7) : h));
        let expected = hops[0] ?? normalizedPeer;
        for (let index = hops.length - 1; index >= 0; index -= 1) {
          const candidate = hops[index] ?? '';
          // A hop that is no address at all (node:net's reading; a zone id is an address) ends the chain we can believe.
          if (isIP(candidate) === 0) {
            expected = normalizedPeer;
            break;
          }
          if (!isTrusted(candidate)) {
            expected = candidate;
            break;
          }
        }
        if (client !== expected) assert.equal(client, expected, `${peer} ${JSON.stringify(headers)}`);
        // Never anything from Forwarded or X-Real-IP.
        assert.ok(client === normalizedPeer || hops.includes(client), client);
      }),
      runs(1500),
    );
  });
});
