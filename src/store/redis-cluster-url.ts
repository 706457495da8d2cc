/**
 * Redis Cluster: `redis+cluster://[user:password@]host:port[,host:port…]`
 * (`rediss+cluster://` for TLS). The listed nodes are where the client starts:
 * it asks them for the cluster's slot map and finds every other node from it,
 * so a few seeds are enough, and any of them may be down. A cluster has only
 * database 0, so the URL names none.
 */
import { parseHostList, type HostPort } from './redis-host-list.ts';

export interface ClusterLocation {
  readonly nodes: readonly HostPort[];
  readonly username?: string;
  readonly password?: string;
  readonly tls: boolean;
}

const PATTERN = /^(rediss?)\+cluster:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#@]+)\/?$/;
const FORM = 'redis+cluster://[user:password@]host:port[,host:port…]';

export function isClusterUrl(url: string): boolean {
  return url.startsWith('redis+cluster:') || url.startsWith('rediss+cluster:');
}

/** The seed nodes and credentials a Cluster URL names, or why it is refused. */
export function parseClusterUrl(url: string): ClusterLocation | string {
  const match = PATTERN.exec(url);
  if (!match) return `a Redis Cluster URL is written ${FORM} (a cluster has only database 0: no /<db>)`;
  const [, scheme, user, password, hosts] = match;
  const nodes = parseHostList(hosts!, 6379, FORM);
  if (typeof nodes === 'string') return nodes;
  return {
    nodes,
    ...(user ? { username: decodeURIComponent(user) } : {}),
    ...(password ? { password: decodeURIComponent(password) } : {}),
    tls: scheme === 'rediss',
  };
}

/** The URL without its password, for logs and error messages. */
export function redactClusterUrl(url: string): string {
  return url.replace(/^(rediss?\+cluster:\/\/[^:@/]*:)[^@/]*@/, '$1***@');
}
