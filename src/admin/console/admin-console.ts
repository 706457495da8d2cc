/**
 * Builds the admin console for a gateway (createGateway()'s): its context from the
 * gateway's configuration, audit log, recent events, connector service, readiness and
 * metrics, and an OpenID Connect client of its own for the same provider and client.
 */
import type { Registry } from 'prom-client';
import type { AuditLog } from '../../audit/audit-log.ts';
import { systemClock, type Clock } from '../../clock.ts';
import type { GatewayConfig } from '../../config/parse.ts';
import type { ConnectorService } from '../../connector-plane/connector-service.ts';
import { recentEventsOf } from '../../gateway/gateway-audit.ts';
import { OidcClient } from '../../signin/oidc-client.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConsoleContext } from './console-context.ts';
import { handleConsole } from './console-handler.ts';
import { consoleKeys } from './console-session.ts';
import { TrafficRing } from './traffic-ring.ts';

/** What the console reads from a gateway; `createGateway()`'s has all of it. */
export interface ConsoleSource {
  readonly config: GatewayConfig;
  readonly audit: AuditLog;
  readonly connectors: ConnectorService | undefined;
  readonly metrics: Registry;
  readiness: ConsoleContext['readiness'];
}

export interface AdminConsole {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Starts the traffic samples (while the listener is open). */
  start(): void;
  close(): Promise<void>;
}

export function isConsoleSource(source: object): source is ConsoleSource {
  const candidate = source as Partial<ConsoleSource>;
  return typeof candidate.config?.identityProvider === 'object' && candidate.audit !== undefined && 'connectors' in candidate;
}

export function createAdminConsole(source: ConsoleSource, options: { readonly secure: boolean; readonly clock?: Clock }): AdminConsole {
  const clock = options.clock ?? systemClock;
  const oidc = new OidcClient({ settings: source.config.identityProvider, clock });
  const traffic = new TrafficRing(source.metrics, clock);
  const context: ConsoleContext = {
    config: () => source.config,
    audit: source.audit,
    recentEvents: recentEventsOf(source.audit),
    connectors: source.connectors,
    readiness: () => source.readiness(),
    oidc,
    adminSettings: source.config.connectors?.admin,
    keys: consoleKeys(source.config.session.secrets),
    clock,
    secure: options.secure,
    traffic,
  };
  return {
    handle: (req, res) => handleConsole(req, res, context),
    start: () => traffic.start(),
    close: async () => {
      traffic.stop();
      await oidc.close();
    },
  };
}
