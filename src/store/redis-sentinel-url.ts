/**
 * Redis through Sentinel: `redis+sentinel://[user:password@]host:port[,host:port…]/<master name>[/<db>]`
 * (`rediss+sentinel://` for TLS to the master). The sentinels are asked which
 * server is the master now, and asked again after a failover, so the gateway
 * follows it by itself. The credentials are the master's; the sentinels are
 * reached without (as in most deployments, which keep them on a private network).
 * WHATWG URLs cannot hold a list of hosts, hence this parser.
 */
import { parseHostList, type HostPort } from './redis-host-list.ts';

export interface SentinelLocation {
  readonly sentinels: readonly HostPort[];
  /** The master's name in the sentinels' configuration. */
  readonly name: string;
  readonly username?: string;
  readonly password?: string;
  readonly db?: number;
  readonly tls: boolean;
}

const PATTERN = /^(rediss?)\+sentinel:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#@]+)\/([^/?#]+)(?:\/(\d+))?\/?$/;

export function isSentinelUrl(url: string): boolean {
  return url.startsWith('redis+sentinel:') || url.startsWith('rediss+sentinel:');
}

/** The sentinels, master name, credentials and database a Sentinel URL names, or why it is refused. */
export function parseSentinelUrl(url: string): SentinelLocation | string {
  const match = PATTERN.exec(url);
  const form = 'redis+sentinel://[user:password@]host:port[,host:port…]/<master name>[/<db>]';
  if (!match) return `a Sentinel URL is written ${form}`;
  const [, scheme, user, password, hosts, name, db] = match;
  const sentinels = parseHostList(hosts!, 26379, form);
  if (typeof sentinels === 'string') return sentinels;
  return {
    sentinels,
    name: decodeURIComponent(name!),
    ...(user ? { username: decodeURIComponent(user) } : {}),
    ...(password ? { password: decodeURIComponent(password) } : {}),
    ...(db !== undefined ? { db: Number(db) } : {}),
    tls: scheme === 'rediss',
  };
}

/** The URL without its password, for logs and error messages. */
export function redactSentinelUrl(url: string): string {
  return url.replace(/^(rediss?\+sentinel:\/\/[^:@/]*:)[^@/]*@/, '$1***@');
}
