/**
 * Each registered connector as the admin API's connectors list (`GET /admin/connectors`)
 * and the console's Connectors page both show it: the registry (group, certificate), its
 * connection and tunnels to this instance, and what the audit log's recent events say
 * about its connections (address and client seen, when last seen). One function for both,
 * so a script reads exactly what the page shows.
 */
import type { AuditEvent } from '../../audit/events.ts';
import type { RecentEvents } from '../../audit/recent-events.ts';
import type { ConnectorEvents } from '../../connector-plane/connector-events.ts';
import type { ConnectorRegistry } from '../../connector-plane/connector-registry.ts';
import { isRenewalDue } from '../../connector-plane/renewal-schedule.ts';
import type { TunnelPool } from '../../tunnel/tunnel-pool.ts';

export interface ConnectorView {
  readonly id: string;
  readonly name: string | undefined;
  readonly group: string;
  readonly revoked: boolean;
  /** Its events stream is open to this instance. */
  readonly connected: boolean;
  /** Connected, or a healthy tunnel to this instance (and not revoked). */
  readonly online: boolean;
  readonly tunnels: number;
  readonly streamsInFlight: number;
  readonly address: string | undefined;
  /** The User-Agent its events stream last connected with. */
  readonly client: string | undefined;
  /** The version that User-Agent names (`gatehouse-connector/0.1.0`); another client as it named itself. */
  readonly version: string | undefined;
  readonly lastSeen: string | undefined;
  /** Epoch seconds, the service's clock. */
  readonly registeredAt: number;
  /** When the service issued the current certificate (epoch seconds, its own clock): its age counts from here. */
  readonly certificateIssuedAt: number;
  readonly certificateNotBefore: string;
  readonly certificateNotAfter: string;
  readonly certificateFingerprint256: string;
  readonly renewalDue: boolean;
}

/** What the views are read from: the connector service's parts. */
export interface ConnectorViewParts {
  readonly registry: Pick<ConnectorRegistry, 'all'>;
  readonly events: Pick<ConnectorEvents, 'isConnected'>;
  /** This instance's tunnels; absent, none. */
  readonly tunnels: Pick<TunnelPool, 'sessions'> | undefined;
  /** `connectors.renewalAge`, seconds. */
  readonly renewalAge: number;
}

/** How many recent connector events are read to find each one's address and last connection. */
export const CONNECTOR_EVENTS_READ = 500;

/** The views, with the recent connector events read from `recent` (absent: no address, client or last seen for offline ones). */
export async function readConnectorViews(parts: ConnectorViewParts, recent: Pick<RecentEvents, 'query'> | undefined, now: number): Promise<ConnectorView[]> {
  const events = (await recent?.query({ type: 'connector.*', limit: CONNECTOR_EVENTS_READ })) ?? [];
  return connectorViews(parts, events, now);
}

export function connectorViews(parts: ConnectorViewParts, events: readonly AuditEvent[], now: number): ConnectorView[] {
  const sessions = parts.tunnels?.sessions() ?? [];
  const views = parts.registry.all().map((record): ConnectorView => {
    const own = sessions.filter((session) => session.connectorId === record.id && !session.closed);
    // Newest first: the first connection event is the latest.
    const connected = events.find((event) => event.type === 'connector.connected' && event.details?.['connectorId'] === record.id);
    // The events stream's connection names the connector's client (its User-Agent); its tunnels' do not.
    const client = events.find(
      (event) => event.type === 'connector.connected' && event.details?.['connectorId'] === record.id && event.userAgent !== undefined,
    )?.userAgent;
    const seen = events.find((event) => event.type.startsWith('connector.') && event.details?.['connectorId'] === record.id);
    const streamOpen = parts.events.isConnected(record.id);
    const online = !record.revoked && (streamOpen || own.some((session) => session.healthy));
    return {
      id: record.id,
      name: record.name,
      group: record.group,
      revoked: record.revoked,
      connected: streamOpen,
      online,
      tunnels: own.length,
      streamsInFlight: own.reduce((sum, session) => sum + session.inFlight, 0),
      address: connected?.clientIp,
      client,
      version: versionOf(client),
      lastSeen: online ? new Date(now).toISOString() : seen?.time,
      registeredAt: record.registeredAt,
      certificateIssuedAt: record.certificate.issuedAt,
      certificateNotBefore: record.certificate.notBefore,
      certificateNotAfter: record.certificate.notAfter,
      certificateFingerprint256: record.certificate.fingerprint256,
      renewalDue: isRenewalDue(record, parts.renewalAge, () => now),
    };
  });
  return views.sort((a, b) => a.group.localeCompare(b.group) || Number(a.revoked) - Number(b.revoked) || a.id.localeCompare(b.id));
}

function versionOf(client: string | undefined): string | undefined {
  if (client === undefined) return undefined;
  return /^gatehouse-connector\/([\w.+-]{1,32})$/.exec(client)?.[1] ?? client;
}
