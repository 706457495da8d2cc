import type { GatewayConfig } from './parse.ts';

/**
 * Configurations that are valid but open a protected app to everyone: a
 * pass-through app whose internal URL has the same origin (scheme, host,
 * port) as a pre-authenticated app's. Anything the protected app serves is
 * then reachable anonymously through the open one (another path, `../`, the
 * same routes), whatever its policies say. One sentence per pair, naming
 * both apps and the fix; `gatehouse check` prints them and the gateway logs
 * them at start.
 */
export function sharedOriginWarnings(config: Pick<GatewayConfig, 'apps'>): string[] {
  const warnings: string[] = [];
  const protectedApps = config.apps.filter((app) => app.preauth === 'oidc');
  for (const open of config.apps.filter((app) => app.preauth === 'passthrough')) {
    const { origin, key } = originOf(open.internalUrl);
    for (const app of protectedApps) {
      const other = originOf(app.internalUrl);
      if (other.key !== key) continue;
      const spelled = other.origin === origin ? origin : `${origin} (written ${other.origin} for "${app.id}")`;
      warnings.push(
        `apps "${open.id}" (pass-through) and "${app.id}" (pre-authenticated) reach the same internal origin ${spelled}: ` +
          `anyone can reach what "${app.id}" protects through "${open.id}", without signing in. ` +
          `Serve the open part from its own origin (another port or host), or make "${open.id}" pre-authenticated.`,
      );
    }
  }
  return warnings;
}

/**
 * The origin as written (normalised by URL: case, default port, IPv4
 * shorthand) and the key compared: names are not resolved, but every
 * spelling of this machine (localhost, 127.0.0.0/8, ::1, 0.0.0.0) is one host,
 * since a backend on the gateway's own machine answers on all of them.
 */
function originOf(url: string): { readonly origin: string; readonly key: string } {
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/\.$/, '');
  const port = parsed.port || (parsed.protocol === 'https:' ? '443' : '80');
  return { origin: `${parsed.protocol}//${host}:${port}`, key: `${parsed.protocol}//${isThisMachine(host) ? 'loopback' : host}:${port}` };
}

function isThisMachine(host: string): boolean {
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    /^127\.\d+\.\d+\.\d+$/.test(host) ||
    host === '0.0.0.0' ||
    host === '[::1]' ||
    host === '[::]' ||
    /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host)
  );
}
