/**
 * `GET /.gatehouse/admin/overview`: is it up, at a glance. Per connector group
 * (every group an app uses or a connector joined), the connectors online and
 * offline, the tunnels to this instance and the streams in flight on them, and
 * the same on every gateway instance that shares the store (from the records
 * they renew on their heartbeat); the certificates expiring soon (or due for
 * renewal); the readiness checks.
 */
import type { RequestHandler } from 'express';
import { EXPIRING_SOON_SECONDS } from '../admin/console/format.ts';
import type { Clock } from '../clock.ts';
import type { AdminApiSource } from './admin-api-source.ts';
import { connectorStates, groupState } from './admin-api-groups.ts';
import type { ConnectorEvents } from './connector-events.ts';
import type { ConnectorRecord, ConnectorRegistry } from './connector-registry.ts';
import { groupInstances, type InstanceLoadSource } from './instance-overview.ts';

export interface OverviewParts {
  readonly source: AdminApiSource;
  readonly registry: Pick<ConnectorRegistry, 'all'>;
  readonly events: Pick<ConnectorEvents, 'isConnected'>;
  readonly clock: Clock;
  readonly renewalDue: (record: ConnectorRecord) => boolean;
  /** The gateway instances this one knows live, with each one's tunnels per connector where its record says. */
  readonly instances?: (() => readonly InstanceLoadSource[] | undefined) | undefined;
}

export function overviewHandler(parts: OverviewParts): RequestHandler {
  return async (_req, res) => {
    const { source, registry, events, clock } = parts;
    const now = clock();
    const records = registry.all();
    const connectors = connectorStates(records, events, source.tunnels());
    const apps = source.config().apps;
    const names = [...new Set([...apps.map((app) => app.connectorGroup), ...connectors.map((connector) => connector.group)])].sort();
    const expiring = records
      .filter((record) => !record.revoked && (Date.parse(record.certificate.notAfter) - now < EXPIRING_SOON_SECONDS * 1000 || parts.renewalDue(record)))
      .map((record) => ({ id: record.id, group: record.group, notAfter: record.certificate.notAfter, renewalDue: parts.renewalDue(record) }));
    const readiness = await source.readiness();
    const instances = parts.instances?.() ?? [];
    res.set('Cache-Control', 'no-store').json({
      groups: names.map((name) => ({
        ...groupState(name, connectors),
        apps: apps.filter((app) => app.connectorGroup === name).map((app) => app.id),
        instances: groupInstances(name, records, instances),
      })),
      connectors,
      instances: instances.map(({ id }) => id),
      expiringSoon: { withinDays: EXPIRING_SOON_SECONDS / 86_400, certificates: expiring },
      readiness,
    });
  };
}
