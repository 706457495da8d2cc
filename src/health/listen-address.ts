/** `host:port` as an operator writes the address of a health and metrics listener: `127.0.0.1:9100`, `[::1]:9100`, `:9100`. */

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** The address, or why it is not one (a sentence that shows the expected form). */
export function parseListenAddress(text: string): ListenAddress | string {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (!match || port > 65535) return `"${text}" is not host:port, e.g. "127.0.0.1:9100" or "[::1]:9100"`;
  // An empty host listens on every address, as Node does for an undefined one; said explicitly it is 0.0.0.0.
  return { host: match[1] ?? (match[2] === '' ? '0.0.0.0' : match[2]!), port };
}

/** How to print an address: IPv6 in brackets. */
export function formatListenAddress(address: ListenAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
