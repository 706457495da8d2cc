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
    const origin = originOf(open.internalUrl);
    for (const app of protectedApps) {
      if (originOf(app.internalUrl) !== origin) continue;
      warnings.push(
        `apps "${open.id}" (pass-through) and "${app.id}" (pre-authenticated) reach the same internal origin ${origin}: ` +
          `anyone can reach what "${app.id}" protects through "${open.id}", without signing in. ` +
          `Serve the open part from its own origin (another port or host), or make "${open.id}" pre-authenticated.`,
      );
    }
  }
  return warnings;
}

function originOf(url: string): string {
  // URL normalises case, default ports and trailing dots the same way for both sides.
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.hostname.replace(/\.$/, '')}:${parsed.port || (parsed.protocol === 'https:' ? '443' : '80')}`;
}
