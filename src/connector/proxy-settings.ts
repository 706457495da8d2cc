/**
 * Which outbound proxy the connector uses, decided once where the process
 * starts: `--proxy URL` wins over `HTTPS_PROXY`/`https_proxy`; `NO_PROXY`/
 * `no_proxy` names the hosts reached directly. The proxy URL may carry
 * `user:password` for Basic authentication; they are kept only as the
 * ready-made header value and never appear in any text this module makes.
 */
import { BlockList, isIP } from 'node:net';
import { ConnectorArgumentError } from '../errors/connector-error.ts';

/** A parsed proxy URL. */
export interface OutboundProxy {
  /** `http:` (CONNECT in clear to the proxy) or `https:` (TLS to the proxy, then CONNECT). */
  readonly protocol: 'http:' | 'https:';
  readonly host: string;
  readonly port: number;
  /** `Basic …` from the URL's user:password; never logged. */
  readonly authorization: string | undefined;
  /** The URL without its credentials, for messages and logs. */
  readonly display: string;
}

/** The hosts reached without the proxy (`NO_PROXY`). */
export interface NoProxyList {
  /** `*`: no host goes through the proxy. */
  readonly all: boolean;
  /** Host names and domain suffixes, lower case, without a leading dot; each matches itself and its subdomains. */
  readonly domains: ReadonlyArray<{ readonly name: string; readonly port: number | undefined }>;
  /** Addresses and CIDR ranges. */
  readonly addresses: ReadonlyArray<{ readonly list: BlockList; readonly port: number | undefined }>;
  /** The entries as given, for messages. */
  readonly texts: readonly string[];
}

/** Which proxy the connector's connections go through, and which hosts bypass it; from resolveProxySettings(). */
export interface OutboundProxySettings {
  /** Undefined: every connection is direct. */
  readonly proxy: OutboundProxy | undefined;
  readonly noProxy: NoProxyList;
  /** Where the proxy came from, for the log line that says so. */
  readonly source: 'option' | 'environment' | 'none';
}

export const NO_NO_PROXY: NoProxyList = Object.freeze({ all: false, domains: [], addresses: [], texts: [] });

/** Direct connections only: what a library caller gets without asking for a proxy. */
export const DIRECT: OutboundProxySettings = Object.freeze({ proxy: undefined, noProxy: NO_NO_PROXY, source: 'none' });

/** The URL with any user name and password replaced, for every message that quotes it. */
export function redactProxyUrl(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/?#]*@/i, (_match, scheme: string | undefined) => `${scheme ?? ''}***@`);
}

function percentDecode(text: string, what: string, from: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ConnectorArgumentError(`${from}: the proxy ${what} is not valid percent-encoding`);
  }
}

/**
 * Parses a proxy URL such as `http://user:pass@proxy.corp:3128`. Without a
 * scheme it is taken as `http://`, as curl does; without a port, 80 or 443.
 * `from` names the option or variable in messages.
 */
export function parseProxyUrl(text: string, from: string): OutboundProxy {
  const trimmed = text.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ConnectorArgumentError(`${from} must be a proxy URL such as http://proxy.example.com:3128, got ${JSON.stringify(redactProxyUrl(trimmed))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConnectorArgumentError(`${from} must be an http:// or https:// proxy URL (the proxy must speak HTTP CONNECT), got ${url.protocol}//`);
  }
  if (url.hostname === '') throw new ConnectorArgumentError(`${from} names no proxy host`);
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    throw new ConnectorArgumentError(`${from} must be the proxy's address only (no path), e.g. ${url.protocol}//${url.host}`);
  }
  let authorization: string | undefined;
  if (url.username !== '' || url.password !== '') {
    const user = percentDecode(url.username, 'user name', from);
    const password = percentDecode(url.password, 'password', from);
    authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
  }
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const display = `${url.protocol}//${authorization ? '***@' : ''}${url.host}${url.port === '' ? `:${port}` : ''}`;
  return Object.freeze({ protocol: url.protocol, host, port, authorization, display });
}

function parsePort(text: string, entry: string): number {
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port < 1 || port > 65_535) throw new ConnectorArgumentError(`NO_PROXY entry ${JSON.stringify(entry)} has a bad port`);
  return port;
}

/** Splits `host:port`, `[v6]:port`, `v6`, `cidr` into a host part and a port. */
function splitPort(entry: string): { host: string; port: number | undefined } {
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(entry);
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] === undefined ? undefined : parsePort(bracketed[2], entry) };
  const colons = entry.split(':').length - 1;
  // A bare IPv6 address or range has several colons and no port.
  if (colons === 1) {
    const [host, port] = entry.split(':') as [string, string];
    return { host, port: parsePort(port, entry) };
  }
  return { host: entry, port: undefined };
}

function addressList(host: string, entry: string): BlockList | undefined {
  const slash = host.indexOf('/');
  const address = slash === -1 ? host : host.slice(0, slash);
  const family = isIP(address);
  if (family === 0) {
    if (slash !== -1) throw new ConnectorArgumentError(`NO_PROXY entry ${JSON.stringify(entry)} is not a CIDR range`);
    return undefined;
  }
  const type = family === 6 ? 'ipv6' : 'ipv4';
  const list = new BlockList();
  if (slash === -1) {
    list.addAddress(address, type);
    return list;
  }
  const prefix = Number(host.slice(slash + 1));
  if (!/^\d{1,3}$/.test(host.slice(slash + 1)) || prefix > (family === 6 ? 128 : 32)) {
    throw new ConnectorArgumentError(`NO_PROXY entry ${JSON.stringify(entry)} has a bad prefix length`);
  }
  list.addSubnet(address, prefix, type);
  return list;
}

/**
 * Parses a `NO_PROXY` value: entries separated by commas or spaces, each
 * `*`, a host name or domain suffix (`corp.example`, `.corp.example` and
 * `*.corp.example` all match corp.example and everything under it), an
 * address or CIDR range, each optionally with `:port`.
 */
export function parseNoProxy(text: string | undefined): NoProxyList {
  const texts = (text ?? '')
    .split(/[\s,]+/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (texts.length === 0) return NO_NO_PROXY;
  const domains: Array<NoProxyList['domains'][number]> = [];
  const addresses: Array<NoProxyList['addresses'][number]> = [];
  let all = false;
  for (const entry of texts) {
    if (entry === '*') {
      all = true;
      continue;
    }
    const { host, port } = splitPort(entry);
    const list = addressList(host, entry);
    if (list) {
      addresses.push({ list, port });
      continue;
    }
    const name = host
      .toLowerCase()
      .replace(/^\*?\.+/, '')
      .replace(/\.$/, '');
    if (name !== '') domains.push({ name, port });
  }
  return Object.freeze({ all, domains, addresses, texts });
}

/** Whether a connection to `host:port` goes through the proxy. */
export function shouldProxy(settings: OutboundProxySettings, host: string, port: number): boolean {
  if (!settings.proxy) return false;
  const { noProxy } = settings;
  if (noProxy.all) return false;
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  const family = isIP(bare);
  if (family !== 0) {
    const type = family === 6 ? 'ipv6' : 'ipv4';
    return !noProxy.addresses.some((entry) => (entry.port === undefined || entry.port === port) && entry.list.check(bare, type));
  }
  const name = bare.replace(/\.$/, '');
  return !noProxy.domains.some((entry) => (entry.port === undefined || entry.port === port) && (name === entry.name || name.endsWith(`.${entry.name}`)));
}

/** Where resolveProxySettings() reads the proxy from: the `--proxy` value, else the environment. */
export interface ResolveProxyOptions {
  /** `--proxy`: a URL, or `none` (or empty) for direct connections whatever the environment says. */
  readonly option?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
}

function fromEnv(env: NodeJS.ProcessEnv, names: readonly string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') return { name, value };
  }
  return undefined;
}

/** The settings for this process: `--proxy` if given, else the environment. Throws ConnectorArgumentError for a bad value. */
export function resolveProxySettings(options: ResolveProxyOptions): OutboundProxySettings {
  const env = options.env ?? {};
  const noProxyVar = fromEnv(env, ['no_proxy', 'NO_PROXY']);
  const noProxy = parseNoProxy(noProxyVar?.value);
  const option = options.option?.trim();
  if (option !== undefined) {
    if (option === '' || option === 'none') return Object.freeze({ proxy: undefined, noProxy, source: 'option' });
    return Object.freeze({ proxy: parseProxyUrl(option, '--proxy'), noProxy, source: 'option' });
  }
  // The lower-case name first, as curl reads them.
  const variable = fromEnv(env, ['https_proxy', 'HTTPS_PROXY']);
  if (!variable) return Object.freeze({ proxy: undefined, noProxy, source: 'none' });
  return Object.freeze({ proxy: parseProxyUrl(variable.value, variable.name), noProxy, source: 'environment' });
}

/** One line for the log and the terminal: which proxy, from where, and what bypasses it. Never the credentials. */
export function describeProxySettings(settings: OutboundProxySettings): string {
  if (!settings.proxy) return settings.source === 'option' ? 'no outbound proxy (--proxy none)' : 'no outbound proxy';
  const from = settings.source === 'option' ? '--proxy' : 'HTTPS_PROXY';
  const bypass = settings.noProxy.texts.length > 0 ? `; direct for NO_PROXY ${settings.noProxy.texts.join(',')}` : '';
  return `through the outbound proxy ${settings.proxy.display} (from ${from})${bypass}`;
}
