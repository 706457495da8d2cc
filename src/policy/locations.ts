import { BlockList } from 'node:net';
import type { IpAddress } from '../ip/address.ts';
import { blockListHas, blockListOf, parseCidr, type IpRange } from '../ip/cidr.ts';

/**
 * Named locations and inline ranges compiled once into `node:net` BlockLists,
 * so that a request costs one lookup per location, never a parse.
 */

/** One entry of a location condition: `any`, a named location or an inline range. */
export interface LocationRef {
  /** As written in the policy: the audit log names it. */
  readonly label: string;
  readonly any: boolean;
  readonly list: BlockList;
}

export type NamedLocations = ReadonlyMap<string, LocationRef>;

/** Compiles `namedLocations`; every problem is pushed onto `issues`. */
export function compileNamedLocations(source: Readonly<Record<string, readonly string[]>>, issues: string[]): NamedLocations {
  const named = new Map<string, LocationRef>();
  for (const [name, ranges] of Object.entries(source)) {
    if (name === 'any') {
      issues.push('namedLocations.any: "any" is reserved for every location; choose another name');
      continue;
    }
    if (!Array.isArray(ranges) || ranges.length === 0) {
      issues.push(`namedLocations.${name}: list at least one IPv4 or IPv6 range, e.g. "10.0.0.0/8"`);
      continue;
    }
    named.set(name, { label: name, any: false, list: buildList(ranges, `namedLocations.${name}`, issues) });
  }
  return named;
}

/** Resolves a condition's entry: `any`, a named location, then an inline range. */
export function resolveLocation(entry: string, named: NamedLocations, where: string, issues: string[]): LocationRef | undefined {
  if (entry === 'any') return { label: 'any', any: true, list: new BlockList() };
  const found = named.get(entry);
  if (found !== undefined) return found;
  if (!/[.:/]/.test(entry)) {
    issues.push(`${where}: unknown named location "${entry}" (define it under namedLocations, or write "any" or a CIDR range)`);
    return undefined;
  }
  return { label: entry, any: false, list: buildList([entry], where, issues) };
}

/** Whether the client is in the location; an unknown address is only in `any`. */
export function locationContains(ref: LocationRef, ip: IpAddress | undefined): boolean {
  if (ref.any) return true;
  return ip !== undefined && blockListHas(ref.list, ip);
}

function buildList(ranges: readonly string[], where: string, issues: string[]): BlockList {
  const parsed: IpRange[] = [];
  for (const range of ranges) {
    const result = typeof range === 'string' ? parseCidr(range) : 'is not a string';
    if (typeof result === 'string') issues.push(`${where}: ${JSON.stringify(range)} ${result}; write a CIDR range such as "10.0.0.0/8" or "2001:db8::/32"`);
    else parsed.push(result);
  }
  return blockListOf(parsed);
}
