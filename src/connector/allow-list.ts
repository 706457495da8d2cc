/**
 * The connector's own allow-list of targets (`--allow`): a local bound on
 * where the connector dials, whatever the service's configuration says. The
 * service names an internal URL for each app; without this list the
 * connector dials any of them, so a compromised service could point an app at
 * a cloud metadata address or an SSH port. With it, a target is dialled only
 * if the list allows it:
 *
 * - `CIDR` or address (`10.0.0.0/8`, `10.0.0.5`, `fd00::/8`, `[fd00::1]`):
 *   the address dialled must be inside it. For a host name, that is every
 *   address it resolves to: only the allowed ones are dialled, so DNS cannot
 *   smuggle a target in.
 * - `host` (`wiki.corp`): the URL's host name, exactly, ignoring case.
 * - `:port` after either (`10.0.0.0/8:8080`, `[fd00::/8]:443`, `wiki.corp:443`)
 *   limits the entry to that port.
 *
 * Checked on every tunnel stream before any connection is opened (origin.ts).
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIPv6, type LookupFunction } from 'node:net';
import { parseIp, type IpFamily } from '../ip/address.ts';
import { parseCidr } from '../ip/cidr.ts';
import { MAX_ALLOW_ENTRY_LENGTH, MAX_ALLOW_LIST_ENTRIES } from '../limits.ts';
import { ConnectorArgumentError } from '../errors/connector-error.ts';

interface NetworkEntry {
  readonly kind: 'network';
  readonly text: string;
  readonly address: string;
  readonly prefix: number;
  readonly family: IpFamily;
  readonly port: number | undefined;
}

interface HostEntry {
  readonly kind: 'host';
  readonly text: string;
  readonly host: string;
  readonly port: number | undefined;
}

export type AllowEntry = NetworkEntry | HostEntry;

/** A malformed entry; the message names it and says what is accepted. */
export class AllowEntryError extends Error {
  readonly entry: string;

  constructor(entry: string, problem: string) {
    super(
      `--allow ${JSON.stringify(entry.length > 80 ? `${entry.slice(0, 80)}…` : entry)}: ${problem}. ` +
        'Give a CIDR or address (10.0.0.0/8, 10.0.0.5, [fd00::/8]) or a host name (wiki.corp), each optionally with :PORT.',
    );
    this.name = 'AllowEntryError';
    this.entry = entry;
  }
}

const HOST_LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const HOST_NAME = new RegExp(`^${HOST_LABEL}(?:\\.${HOST_LABEL})*$`);

function parsePort(entry: string, text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 1 && port <= 65_535)) throw new AllowEntryError(entry, `the port must be a number from 1 to 65535, got "${text}"`);
  return port;
}

function network(entry: string, text: string, address: string, prefixText: string | undefined, port: number | undefined): NetworkEntry {
  const cidr = prefixText === undefined ? address : `${address}/${prefixText}`;
  const range = parseCidr(cidr);
  if (typeof range === 'string') throw new AllowEntryError(entry, `"${cidr}" ${range}`);
  return { kind: 'network', text, address: range.network.address, prefix: range.prefix, family: range.network.family, port };
}

/** Parses one `--allow` value; throws AllowEntryError. */
export function parseAllowEntry(raw: string): AllowEntry {
  const entry = raw.trim().toLowerCase();
  if (entry === '') throw new AllowEntryError(raw, 'it is empty');
  if (entry.length > MAX_ALLOW_ENTRY_LENGTH) throw new AllowEntryError(raw, `it is longer than ${MAX_ALLOW_ENTRY_LENGTH} characters`);
  // [v6], [v6/len], [v6]/len, each optionally :port
  const bracketed = /^\[([^\]/]+)(?:\/([^\]]*))?\](?:\/([^:]*))?(?::(.*))?$/.exec(entry);
  if (bracketed) {
    const [, address = '', inner, outer, portText] = bracketed;
    if (inner !== undefined && outer !== undefined) throw new AllowEntryError(raw, 'it has two prefix lengths');
    if (!isIPv6(address)) throw new AllowEntryError(raw, `"${address}" in brackets is not an IPv6 address`);
    return network(raw, entry, address, inner ?? outer, portText === undefined ? undefined : parsePort(raw, portText));
  }
  // A bare IPv6 address has colons of its own: no port without brackets.
  if ((entry.match(/:/g) ?? []).length > 1) {
    const [address = '', prefixText, extra] = entry.split('/');
    if (extra !== undefined) throw new AllowEntryError(raw, 'it has two prefix lengths');
    return network(raw, entry, address, prefixText, undefined);
  }
  const colon = entry.lastIndexOf(':');
  const target = colon === -1 ? entry : entry.slice(0, colon);
  const port = colon === -1 ? undefined : parsePort(raw, entry.slice(colon + 1));
  const slash = target.indexOf('/');
  if (slash !== -1 || /^[\d.]+$/.test(target)) {
    return network(raw, entry, slash === -1 ? target : target.slice(0, slash), slash === -1 ? undefined : target.slice(slash + 1), port);
  }
  if (target.length > 253 || !HOST_NAME.test(target)) throw new AllowEntryError(raw, `"${target}" is not a host name`);
  return { kind: 'host', text: entry, host: target, port };
}

/** An address literal (bracketed or not), IPv4-mapped IPv6 judged as the IPv4 address it carries. */
function normaliseAddress(address: string): { address: string; family: IpFamily } | undefined {
  return parseIp(address.replace(/^\[|\]$/g, ''));
}

/** Thrown through the connection's lookup when no address of a host name is allowed. */
export const TARGET_NOT_ALLOWED = 'ERR_TARGET_NOT_ALLOWED';

function notAllowed(message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code: TARGET_NOT_ALLOWED });
}

export class TargetAllowList {
  readonly entries: readonly AllowEntry[];
  /** One BlockList per port (`0`: any port). */
  readonly #networks = new Map<number, BlockList>();
  readonly #hosts = new Map<string, Set<number>>();

  constructor(entries: readonly AllowEntry[]) {
    this.entries = Object.freeze([...entries]);
    for (const entry of entries) {
      const port = entry.port ?? 0;
      if (entry.kind === 'host') {
        let ports = this.#hosts.get(entry.host);
        if (!ports) {
          ports = new Set();
          this.#hosts.set(entry.host, ports);
        }
        ports.add(port);
        continue;
      }
      let list = this.#networks.get(port);
      if (!list) {
        list = new BlockList();
        this.#networks.set(port, list);
      }
      list.addSubnet(entry.address, entry.prefix, entry.family);
    }
  }

  /** Parses `--allow` values (duplicates dropped); throws AllowEntryError. */
  static parse(values: readonly string[]): TargetAllowList {
    if (values.length > MAX_ALLOW_LIST_ENTRIES) {
      throw new AllowEntryError(String(values[MAX_ALLOW_LIST_ENTRIES]), `the allow-list holds at most ${MAX_ALLOW_LIST_ENTRIES} entries`);
    }
    const seen = new Map<string, AllowEntry>();
    for (const value of values) {
      const entry = parseAllowEntry(value);
      if (!seen.has(entry.text)) seen.set(entry.text, entry);
    }
    return new TargetAllowList([...seen.values()]);
  }

  /** The entries as given (trimmed, lower case): what `status` shows and the state file keeps. */
  get texts(): string[] {
    return this.entries.map((entry) => entry.text);
  }

  /** Whether the URL's host (a name or an address literal) is allowed on `port` without looking anything up. */
  allowsHost(host: string, port: number): boolean {
    const address = normaliseAddress(host);
    if (address) return this.allowsAddress(address.address, port);
    const ports = this.#hosts.get(host.toLowerCase());
    return ports !== undefined && (ports.has(0) || ports.has(port));
  }

  /** Whether an address (what a host name resolved to, or a literal) is inside an allowed network for `port`. */
  allowsAddress(address: string, port: number): boolean {
    const normal = normaliseAddress(address);
    if (!normal) return false;
    for (const key of [0, port]) {
      if (this.#networks.get(key)?.check(normal.address, normal.family)) return true;
    }
    return false;
  }

  /**
   * A `lookup` for net.connect/tls.connect that resolves `host` and hands on
   * only the addresses this list allows for `port`, so the socket can never
   * dial another one; none allowed fails with TARGET_NOT_ALLOWED before any
   * connection is opened.
   */
  guardedLookup(port: number): LookupFunction {
    return (hostname: string, options: LookupOptions, callback) => {
      dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
        if (error) {
          callback(error, '', 0);
          return;
        }
        const allowed = addresses.filter((candidate) => this.allowsAddress(candidate.address, port));
        const first = allowed[0];
        if (first === undefined) {
          callback(notAllowed(`${hostname} resolves only to addresses outside the connector's allow-list`), '', 0);
          return;
        }
        if (options.all === true) callback(null, allowed);
        else callback(null, first.address, first.family);
      });
    };
  }
}

/** `--allow` values from the command line or a library caller: a mistake is a ConnectorArgumentError (exit 2). */
export function parseAllowOption(values: readonly string[]): TargetAllowList {
  if (values.length === 0) throw new ConnectorArgumentError('--allow needs at least one CIDR, address or host name');
  try {
    return TargetAllowList.parse(values);
  } catch (error) {
    if (error instanceof AllowEntryError) throw new ConnectorArgumentError(error.message);
    throw error;
  }
}
