/**
 * `GET /.gatehouse/admin/connectors`: every registered connector, from the same
 * function as the console's Connectors page (src/admin/console/connector-view.ts):
 * its state, the version its client names, the address and time it was last seen,
 * its certificate's age and expiry, and its tunnels to this instance.
 */
import type { RequestHandler } from 'express';
import { readConnectorViews, type ConnectorView, type ConnectorViewParts } from '../admin/console/connector-view.ts';
import type { RecentEvents } from '../audit/recent-events.ts';
import type { Clock } from '../clock.ts';

export interface ConnectorsListParts extends Omit<ConnectorViewParts, 'tunnels'> {
  /** This instance's tunnels, once there are any. */
  readonly tunnels: () => ConnectorViewParts['tunnels'];
  readonly recentEvents: Pick<RecentEvents, 'query'> | undefined;
  readonly clock: Clock;
}

/** One connector as the API answers it: the fields of before, unchanged, then what the console shows. */
export function connectorJson(view: ConnectorView, now: number): Record<string, unknown> {
  const nowSeconds = Math.floor(now / 1000);
  return {
    id: view.id,
    group: view.group,
    name: view.name ?? null,
    revoked: view.revoked,
    connected: view.connected,
    certificate: {
      notBefore: view.certificateNotBefore,
      notAfter: view.certificateNotAfter,
      fingerprint256: view.certificateFingerprint256,
      issuedAt: new Date(view.certificateIssuedAt * 1000).toISOString(),
      ageSeconds: Math.max(0, nowSeconds - view.certificateIssuedAt),
      expiresInSeconds: Math.floor((Date.parse(view.certificateNotAfter) - now) / 1000),
    },
    renewalDue: view.renewalDue,
    online: view.online,
    version: view.version ?? null,
    client: view.client ?? null,
    address: view.address ?? null,
    lastSeen: view.lastSeen ?? null,
    registeredAt: new Date(view.registeredAt * 1000).toISOString(),
    tunnels: view.tunnels,
    streamsInFlight: view.streamsInFlight,
  };
}

export function connectorsListHandler(parts: ConnectorsListParts): RequestHandler {
  return async (_req, res) => {
    const now = parts.clock();
    const views = await readConnectorViews({ ...parts, tunnels: parts.tunnels() }, parts.recentEvents, now);
    res.set('Cache-Control', 'no-store').json({ connectors: views.map((view) => connectorJson(view, now)) });
  };
}
