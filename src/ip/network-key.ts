import { parseIp } from './address.ts';

/**
 * The network an address belongs to, as a stable key such as
 * "203.0.113.0/24" or "2001:db8:1:0:0:0:0:0/48", for counting clients by
 * network (risk signals, audit flood control). IPv4-mapped IPv6 addresses
 * count as IPv4, so one client does not look like two networks. Undefined for
 * anything that is not an IP address.
 */
export function networkOf(address: string, ipv4Prefix: number, ipv6Prefix: number): string | undefined {
  const bare = address.split('%')[0] ?? ''; // a zone index (fe80::1%eth0) names an interface, not a network
  const ip = parseIp(bare);
  if (ip === undefined) return undefined;
  const prefix = ip.family === 'ipv4' ? ipv4Prefix : ipv6Prefix;
  const masked = ip.bytes.map((byte, index) => {
    const bitsLeft = prefix - index * 8;
    if (bitsLeft >= 8) return byte;
    if (bitsLeft <= 0) return 0;
    return byte & (0xff << (8 - bitsLeft)) & 0xff;
  });
  if (ip.family === 'ipv4') return `${masked.join('.')}/${prefix}`;
  const groups: string[] = [];
  for (let index = 0; index < 16; index += 2) groups.push((((masked[index] ?? 0) << 8) | (masked[index + 1] ?? 0)).toString(16));
  return `${groups.join(':')}/${prefix}`;
}
