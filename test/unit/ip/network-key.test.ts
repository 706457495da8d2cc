import assert from 'node:assert/strict';
import { networkOf } from '../../../src/ip/network-key.ts';

describe('the network of an address (risk signals, audit flood control)', function () {
  it('masks IPv4 to the prefix', function () {
    assert.equal(networkOf('198.51.100.77', 24, 48), '198.51.100.0/24');
    assert.equal(networkOf('198.51.100.77', 16, 48), '198.51.0.0/16');
    assert.equal(networkOf('198.51.100.77', 32, 48), '198.51.100.77/32');
    assert.equal(networkOf('255.255.255.255', 8, 48), '255.0.0.0/8');
  });

  it('masks IPv6 to the prefix, whatever the notation', function () {
    assert.equal(networkOf('2001:db8:abcd:12ff::1', 48, 48), '2001:db8:abcd:0:0:0:0:0/48');
    assert.equal(networkOf('2001:db8:abcd:12ff::1', 24, 56), '2001:db8:abcd:1200:0:0:0:0/56');
    assert.equal(networkOf('2001:0DB8:ABCD:0012:0000:0000:0000:0001', 24, 64), '2001:db8:abcd:12:0:0:0:0/64');
    assert.equal(networkOf('::1', 24, 128), '0:0:0:0:0:0:0:1/128');
    assert.equal(networkOf('fe80::1%eth0', 24, 64), 'fe80:0:0:0:0:0:0:0/64', 'the zone names an interface');
    assert.equal(networkOf('64:ff9b::192.0.2.33', 24, 96), '64:ff9b:0:0:0:0:0:0/96');
  });

  it('treats an IPv4-mapped IPv6 address as IPv4', function () {
    assert.equal(networkOf('::ffff:198.51.100.77', 24, 48), '198.51.100.0/24');
    assert.equal(networkOf('::ffff:c633:644d', 24, 48), '198.51.100.0/24');
  });

  it('has no network for what is not an address', function () {
    for (const value of ['', 'localhost', '198.51.100', '1.2.3.4.5', '2001:db8::1::2', 'unknown']) assert.equal(networkOf(value, 24, 48), undefined, value);
  });
});
