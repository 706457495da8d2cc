import { isIP } from 'node:net';

/**
 * The network an address belongs to, as a stable key such as
 * "203.0.113.0/24" or "2001:db8:1:0:0:0:0:0/48". IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d, what a dual-stack socket reports) count as IPv4, so one
 * client does not look like two networks. Undefined for anything that is not
 * an IP address.
 */
export function networkOf(address: string, ipv4Prefix: number, ipv6Prefix: number): string | undefined {
  const bare = address.split('%')[0] ?? ''; // a zone index (fe80::1%eth0) names an interface, not a network
  const family = isIP(bare);
  if (family === 4) return maskIpv4(bare, ipv4Prefix);
  if (family !== 6) return undefined;
  const groups = ipv6Groups(bare);
  if (groups === undefined) return undefined;
  if (isIpv4Mapped(groups)) {
    const high = groups[6] ?? 0;
    const low = groups[7] ?? 0;
    return maskIpv4(`${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`, ipv4Prefix);
  }
  const masked = groups.map((group, index) => {
    const bitsLeft = ipv6Prefix - index * 16;
    if (bitsLeft >= 16) return group;
    if (bitsLeft <= 0) return 0;
    return group & (0xffff << (16 - bitsLeft)) & 0xffff;
  });
  return `${masked.map((group) => group.toString(16)).join(':')}/${ipv6Prefix}`;
}

function maskIpv4(address: string, prefix: number): string {
  const value = address.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
  const size = 2 ** (32 - prefix);
  const network = Math.floor(value / size) * size;
  const octets = [network >>> 24, (network >>> 16) & 0xff, (network >>> 8) & 0xff, network & 0xff];
  return `${octets.join('.')}/${prefix}`;
}

function isIpv4Mapped(groups: readonly number[]): boolean {
  return groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;
}

/** The eight 16-bit groups of a valid IPv6 address (isIP() already said it is one). */
function ipv6Groups(address: string): number[] | undefined {
  let text = address.toLowerCase();
  // A trailing dotted quad (::ffff:192.0.2.1, 64:ff9b::192.0.2.1) is two groups.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string | undefined): number[] => (part ? part.split(':').map((group) => Number.parseInt(group, 16)) : []);
  const head = parse(halves[0]);
  const tail = parse(halves[1]);
  const zeros = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array.from({ length: zeros }, () => 0), ...tail];
  return groups.length === 8 && groups.every((group) => Number.isInteger(group) && group >= 0 && group <= 0xffff) ? groups : undefined;
}
