/**
 * CIDR ranges (`10.0.0.0/8`, `2001:db8::/32`, a bare address for one host):
 * one parser for every place a range is written (trusted proxies, named
 * locations and policy conditions, the connector's --allow), and the
 * `node:net` BlockList they are compiled into, so that checking an address
 * costs one lookup, never a parse.
 */
import { BlockList, isIPv6 } from 'node:net';
import { parseIp, type IpAddress } from './address.ts';

export interface IpRange {
  readonly network: IpAddress;
  readonly prefix: number;
}

/**
 * Parses `address/prefix` or a bare address (one host). Host bits set after
 * the prefix (`10.0.0.1/8`) are refused: such a range is almost always a typo
 * for a different one. A mapped range (`::ffff:10.0.0.0/104`) becomes its
 * IPv4 range.
 */
export function parseCidr(text: string): IpRange | string {
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const prefixText = slash === -1 ? undefined : text.slice(slash + 1);
  const network = parseIp(addressText);
  if (network === undefined) return 'is not an IPv4 or IPv6 address';
  const mapped = network.family === 'ipv4' && isIPv6(addressText);
  const bits = network.bytes.length * 8;
  let prefix = bits;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText)) return 'has a prefix length that is not a number';
    prefix = Number(prefixText) - (mapped ? 96 : 0);
    if (prefix < 0 || prefix > bits) return `has a prefix length outside 0-${mapped ? '96-128 for a mapped IPv4 range' : String(bits)}`;
  }
  for (let bit = prefix; bit < bits; bit += 1) {
    if (((network.bytes[bit >> 3] ?? 0) & (0x80 >> (bit & 7))) !== 0) return 'has host bits set after the prefix length';
  }
  return { network, prefix };
}

/** A BlockList holding `ranges`. */
export function blockListOf(ranges: Iterable<IpRange>): BlockList {
  const list = new BlockList();
  for (const range of ranges) list.addSubnet(range.network.address, range.prefix, range.network.family);
  return list;
}

/** Whether `list` holds the address. */
export function blockListHas(list: BlockList, ip: IpAddress): boolean {
  return list.check(ip.address, ip.family);
}
