/**
 * Each registered connector as the console shows it, from what the admin API answers
 * (`GET /admin/connectors`: registry, connection, certificate) and what the audit log's
 * recent events say about its connections (address and client seen, when last seen),
 * with the tunnels it holds to this instance.
 */
import type { AuditEvent } from '../../audit/events.ts';
import type { ConnectorService } from '../../connector-plane/connector-service.ts';
import { isRenewalDue } from '../../connector-plane/renewal-schedule.ts';

export interface ConnectorView {
  readonly id: string;
  readonly name: string | undefined;
  readonly group: string;
  readonly revoked: boolean;
  readonly online: boolean;
  readonly tunnels: number;
  readonly streamsInFlight: number;
  readonly address: string | undefined;
  readonly client: string | undefined;
  readonly lastSeen: string | undefined;
  readonly registeredAt: number;
  /** When the service issued the current certificate (epoch seconds, its own clock): its age counts from here. */
  readonly certificateIssuedAt: number;
  readonly certificateNotBefore: string;
  readonly certificateNotAfter: string;
  readonly renewalDue: boolean;
}

/** How many recent connector events are read to find each one's address and last connection. */
export const CONNECTOR_EVENTS_READ = 500;

export function connectorViews(service: ConnectorService, events: readonly AuditEvent[], now: number): ConnectorView[] {
  if (!service.initialized) return [];
  const sessions = service.tunnels.sessions();
  const views = service.registry.all().map((record): ConnectorView => {
    const own = sessions.filter((session) => session.connectorId === record.id && !session.closed);
    // Newest first: the first connection event is the latest.
    const connected = events.find((event) => event.type === 'connector.connected' && event.details?.['connectorId'] === record.id);
    // The events stream's connection names the connector's client (its User-Agent); its tunnels' do not.
    const client = events.find(
      (event) => event.type === 'connector.connected' && event.details?.['connectorId'] === record.id && event.userAgent !== undefined,
    );
    const seen = events.find((event) => event.type.startsWith('connector.') && event.details?.['connectorId'] === record.id);
    const online = !record.revoked && (service.events.isConnected(record.id) || own.some((session) => session.healthy));
    return {
      id: record.id,
      name: record.name,
      group: record.group,
      revoked: record.revoked,
      online,
      tunnels: own.length,
      streamsInFlight: own.reduce((sum, session) => sum + session.inFlight, 0),
      address: connected?.clientIp,
      client: client?.userAgent,
      lastSeen: online ? new Date(now).toISOString() : seen?.time,
      registeredAt: record.registeredAt,
      certificateIssuedAt: record.certificate.issuedAt,
      certificateNotBefore: record.certificate.notBefore,
      certificateNotAfter: record.certificate.notAfter,
      renewalDue: isRenewalDue(record, service.config.renewalAge, () => now),
    };
  });
  return views.sort((a, b) => a.group.localeCompare(b.group) || Number(a.revoked) - Number(b.revoked) || a.id.localeCompare(b.id));
}
