import express, { type Response, type Router } from 'express';
import { ERROR_TABLE, GatehouseError } from '../errors/index.ts';
import { getRequestContext } from '../request/context.ts';
import type { AuditEventInput, AuditUser } from './events.ts';
import { parseEventQuery } from './event-query-params.ts';
import type { RecentEvents } from './recent-events.ts';

export const AUDIT_EVENTS_PATH = '/.gatehouse/admin/events';

/** How admin bearer tokens are checked: `AdminTokenVerifier` (src/connector-plane/admin-token.ts) in the gateway. */
export interface AdminVerifier {
  /** Resolves to the administrator, or throws a GatehouseError (ERR_ADMIN_TOKEN_MISSING, ERR_ADMIN_TOKEN_INVALID, ERR_IDP_UNAVAILABLE). */
  verifyHeader(authorization: string | undefined): Promise<AuditUser>;
}

export interface AuditQueryRouterOptions {
  readonly store: Pick<RecentEvents, 'query'>;
  readonly verifier: AdminVerifier;
  /** Where each query's own `admin.events_queried` event goes. */
  readonly audit: { emit(input: AuditEventInput): unknown };
}

/**
 * `GET /.gatehouse/admin/events`: recent audit events for an administrator,
 * newest first, filtered by type, user, app, time range, outcome, reason or
 * code and request id
 * (docs/audit-events.md, "Query API"). The bearer token is checked first, so
 * a caller without one learns nothing about the parameters; every query,
 * allowed or refused, is itself an `admin.events_queried` event.
 */
export function createAuditQueryRouter(options: AuditQueryRouterOptions): Router {
  const { store, verifier, audit } = options;
  const router = express.Router();

  router.get(AUDIT_EVENTS_PATH, async (req, res) => {
    const context = getRequestContext(req);
    const requestId = context?.requestId ?? headerValue(res.getHeader('X-Request-Id'));
    const record = (event: Omit<AuditEventInput, 'type' | 'clientIp' | 'userAgent' | 'requestId'>): void => {
      audit.emit({
        type: 'admin.events_queried',
        clientIp: context?.clientIp ?? req.socket.remoteAddress,
        userAgent: context?.userAgent ?? req.headers['user-agent'],
        requestId,
        ...event,
      });
    };
    res.set('Cache-Control', 'no-store');

    let admin: AuditUser;
    try {
      admin = await verifier.verifyHeader(req.headers.authorization);
    } catch (error) {
      const refusal = error instanceof GatehouseError ? error : new GatehouseError('ERR_INTERNAL', 'admin_verifier_failed', { cause: error });
      record({ outcome: 'failure', code: refusal.code, reason: refusal.reason });
      if (refusal.status === 401) res.set('WWW-Authenticate', 'Bearer realm="gatehouse"');
      sendError(res, refusal.status, { code: refusal.code, reason: refusal.reason, message: ERROR_TABLE[refusal.code].message, requestId });
      return;
    }
    const user = { sub: admin.sub, name: admin.name, email: admin.email };

    const parsed = parseEventQuery(new URL(req.originalUrl, 'http://query.invalid').searchParams);
    if (!parsed.ok) {
      const reason = parsed.parameter === undefined ? 'unknown_parameter' : `invalid_${parsed.parameter}`;
      record({ outcome: 'failure', code: 'ERR_BAD_REQUEST', reason, user });
      sendError(res, 400, { code: 'ERR_BAD_REQUEST', reason, message: parsed.message, requestId });
      return;
    }
    const { query } = parsed;
    const events = await store.query(query);
    // Recorded after the query ran, so an answer never contains its own event.
    record({
      outcome: 'success',
      user,
      details: {
        types: query.types.join(',') || null,
        user: query.user ?? null,
        app: query.app ?? null,
        since: query.since === undefined ? null : new Date(query.since).toISOString(),
        until: query.until === undefined ? null : new Date(query.until).toISOString(),
        outcome: query.outcome ?? null,
        reason: query.reason ?? null,
        requestId: query.requestId ?? null,
        limit: query.limit,
        returned: events.length,
      },
    });
    res.json({ events });
  });

  return router;
}

function sendError(res: Response, status: number, error: { code: string; reason: string; message: string; requestId: string | undefined }): void {
  const { requestId, ...rest } = error;
  res.status(status).json({ error: requestId ? { ...rest, requestId } : rest });
}

function headerValue(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
