/** What every console handler reads: the gateway's parts (no state of the console's own) and the console's keys. */
import type { AuditLog } from '../../audit/audit-log.ts';
import type { RecentEvents } from '../../audit/recent-events.ts';
import type { Clock } from '../../clock.ts';
import type { ConnectorsConfig, GatewayConfig } from '../../config/parse.ts';
import type { ConnectorService } from '../../connector-plane/connector-service.ts';
import type { Readiness } from '../../health/readiness.ts';
import type { OidcClient } from '../../signin/oidc-client.ts';
import type { ConsoleKeys } from './console-session.ts';
import type { TrafficRing } from './traffic-ring.ts';

export interface ConsoleContext {
  /** The configuration new requests are served with (it follows reloads). */
  readonly config: () => GatewayConfig;
  readonly audit: AuditLog;
  readonly recentEvents: RecentEvents | undefined;
  readonly connectors: ConnectorService | undefined;
  /** Checks absent: a source that reports only a status. */
  readonly readiness: () => Promise<Pick<Readiness, 'status'> & Partial<Pick<Readiness, 'checks'>>>;
  readonly oidc: Pick<OidcClient, 'authorizationUrl' | 'exchange' | 'scopesSupported'>;
  readonly adminSettings: Pick<ConnectorsConfig['admin'], 'claim' | 'value'> | undefined;
  readonly keys: ConsoleKeys;
  readonly clock: Clock;
  /** Whether the admin listener serves HTTPS (the console's cookies are then Secure). */
  readonly secure: boolean;
  readonly traffic: TrafficRing;
}
