import { isIPv4, isIPv6 } from 'node:net';

/**
 * IP addresses, parsed once where they enter (a socket's peer, a configured
 * range, a connector's target) and handed on as values. An IPv4-mapped IPv6
 * address (`::ffff:a.b.c.d`, however it is spelled) is the IPv4 address it
 * carries: a dual-stack socket reports IPv4 peers that way, and a range
 * written as `10.0.0.0/8` must not be dodged by the spelling.
 */

export type IpFamily = 'ipv4' | 'ipv6';

export interface IpAddress {
  readonly family: IpFamily;
  /** Canonical text BlockList accepts: dotted quad, or the address as given for IPv6. */
  readonly address: string;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
}

const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** Parses an IPv4 or IPv6 address; zone IDs (`fe80::1%eth0`) and anything else are refused. */
export function parseIp(text: string): IpAddress | undefined {
  if (isIPv4(text)) return ipv4(text.split('.').map(Number));
  if (!isIPv6(text) || text.includes('%')) return undefined;
  const bytes = ipv6Bytes(text);
  if (bytes === undefined) return undefined;
  if (MAPPED_PREFIX.every((value, index) => bytes[index] === value)) return ipv4([...bytes.subarray(12)]);
  return { family: 'ipv6', address: text.toLowerCase(), bytes };
}

function ipv4(octets: readonly number[]): IpAddress {
  return { family: 'ipv4', address: octets.join('.'), bytes: Uint8Array.from(octets) };
}

/** Expands an IPv6 address node:net already accepted into its 16 bytes. */
function ipv6Bytes(text: string): Uint8Array | undefined {
  let source = text;
  const tail: number[] = [];
  const lastColon = source.lastIndexOf(':');
  const last = source.slice(lastColon + 1);
  if (last.includes('.')) {
    if (!isIPv4(last)) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = last.split('.').map(Number);
    tail.push((a << 8) | b, (c << 8) | d);
    // Keep the colon so "::1.2.3.4" leaves "::" and "1::1.2.3.4" leaves "1::".
    source = source.slice(0, lastColon + 1);
    if (!source.endsWith('::')) source = source.slice(0, -1);
  }
  const halves = source.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string | undefined): number[] => (part === undefined || part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16)));
  const head = parse(halves[0]);
  const rest = [...parse(halves[1]), ...tail];
  const missing = 8 - head.length - rest.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...rest];
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    bytes[index * 2] = group >> 8;
    bytes[index * 2 + 1] = group & 0xff;
  });
  return bytes;
}
