import type { GatewayConfig } from './parse.ts';
import { uncoveredHosts } from './pem-checks.ts';
import { sharedOriginWarnings } from './shared-origin-warnings.ts';

/**
 * What is valid, and starts, but is most likely a mistake: `gatehouse check`
 * prints these (and refuses them with --strict); the gateway logs them at
 * start and on reload. One list, so that check and serve say the same.
 */
export function configWarnings(config: Pick<GatewayConfig, 'apps' | 'server'>): string[] {
  return [...sharedOriginWarnings(config), ...certificateNameWarnings(config)];
}

/**
 * An app whose host the server certificate does not name starts and listens,
 * and then every browser refuses it. A warning, not an error: a certificate
 * may be on its way (or served by a proxy in front for some names), and an
 * operator can make it an error with `gatehouse check --strict`.
 */
export function certificateNameWarnings(config: Pick<GatewayConfig, 'apps' | 'server'>): string[] {
  const cert = config.server.tls?.cert;
  if (cert === undefined) return [];
  const warnings: string[] = [];
  config.apps.forEach((app, index) => {
    if (!URL.canParse(app.externalUrl)) return;
    const host = new URL(app.externalUrl).hostname;
    if (uncoveredHosts(cert, [host]).length > 0) {
      warnings.push(
        `apps[${index}].externalUrl: the server certificate (server.tls) does not name "${host}" (no matching subject alternative name or wildcard): browsers will refuse to connect to "${app.id}"`,
      );
    }
  });
  return warnings;
}
