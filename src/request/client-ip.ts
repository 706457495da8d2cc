import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { blockListOf, parseCidr, type IpRange } from '../ip/cidr.ts';

/**
 * The client's address: the socket's peer, or — only when that peer is a
 * configured trusted proxy — the first untrusted address in X-Forwarded-For
 * read from right to left (the leftmost entry is whatever the
 * client wrote).
 */
export function createClientIpResolver(trustedProxies: readonly string[]): (req: IncomingMessage) => string {
  const trusted = blockListOf(trustedProxies.map(trustedRange));
  const isTrusted = (address: string): boolean => {
    const family = isIP(address);
    if (family === 0) return false;
    return trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };

  return (req) => {
    const peer = normalize(req.socket.remoteAddress ?? '');
    if (trustedProxies.length === 0 || !isTrusted(peer)) return peer;
    const header = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
      .split(',')
      .map((hop) => normalize(hop.trim()))
      .filter((hop) => hop.length > 0);
    for (let index = hops.length - 1; index >= 0; index -= 1) {
      const hop = hops[index] ?? '';
      if (isIP(hop) === 0) return peer; // a malformed hop ends the chain we can believe
      if (!isTrusted(hop)) return hop;
    }
    return hops[0] ?? peer;
  };
}

function normalize(address: string): string {
  // IPv4 peers on a dual-stack socket appear as ::ffff:a.b.c.d
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

function trustedRange(entry: string): IpRange {
  const range = parseCidr(entry);
  if (typeof range === 'string') {
    throw Object.assign(new TypeError(`trustedProxies: ${JSON.stringify(entry)} ${range}`), { code: 'ERR_INVALID_ARG_VALUE' });
  }
  return range;
}
