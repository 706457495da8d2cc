/**
 * The `host:port,host:port…` list that Sentinel and Cluster URLs carry (a
 * WHATWG URL cannot hold a list of hosts). IPv6 addresses go in brackets.
 */

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** The hosts in `list`, each with `defaultPort` when it names none, or why the list is refused. */
export function parseHostList(list: string, defaultPort: number, form: string): HostPort[] | string {
  const hosts: HostPort[] = [];
  for (const item of list.split(',')) {
    const hostPort = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(item);
    if (!hostPort) return `"${item}" is not an address (host:port): ${form}`;
    const port = hostPort[2] === undefined ? defaultPort : Number(hostPort[2]);
    if (port < 1 || port > 65535) return `"${item}": the port must be 1-65535`;
    hosts.push({ host: hostPort[1]!.replace(/^\[|\]$/g, ''), port });
  }
  return hosts;
}
