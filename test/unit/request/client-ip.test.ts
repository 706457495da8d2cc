import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { createClientIpResolver } from '../../../src/request/client-ip.ts';

function request(remoteAddress: string, forwardedFor?: string): IncomingMessage {
  return {
    socket: { remoteAddress },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  } as unknown as IncomingMessage;
}

describe('client IP', () => {
  it('ignores X-Forwarded-For when no proxy is trusted (the default)', () => {
    const resolve = createClientIpResolver([]);
    assert.equal(resolve(request('203.0.113.9', '10.1.1.1')), '203.0.113.9');
    assert.equal(resolve(request('::ffff:203.0.113.9')), '203.0.113.9');
  });

  it('ignores X-Forwarded-For from an untrusted peer', () => {
    const resolve = createClientIpResolver(['10.0.0.0/8']);
    assert.equal(resolve(request('203.0.113.9', '10.1.1.1')), '203.0.113.9');
  });

  it('reads right to left through trusted proxies; a spoofed leftmost entry does not win', () => {
    const resolve = createClientIpResolver(['10.0.0.0/8', '2001:db8::/32']);
    assert.equal(resolve(request('10.0.0.2', '1.2.3.4, 198.51.100.7, 10.0.0.9')), '198.51.100.7');
    assert.equal(resolve(request('2001:db8::1', '198.51.100.8')), '198.51.100.8');
  });

  it('stops at a malformed hop', () => {
    const resolve = createClientIpResolver(['10.0.0.0/8']);
    assert.equal(resolve(request('10.0.0.2', '198.51.100.7, not-an-ip')), '10.0.0.2');
  });
});
