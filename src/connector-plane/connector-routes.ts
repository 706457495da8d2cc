/**
 * The REST side of the connector listener (docs/connector-protocol.md):
 * registration, configuration, the event stream and renewal for connectors,
 * and the administrators' list, revoke and move. Each route checks who calls
 * (a connector's certificate or an admin token), audits refusals, and hands
 * the change to the connector lifecycle.
 */
import { randomUUID } from 'node:crypto';
import express, { type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { AuditLog } from '../audit/audit-log.ts';
import { AUDIT_EVENTS_PATH, createAuditQueryRouter } from '../audit/audit-query-router.ts';
import type { AuditEventInput } from '../audit/events.ts';
import type { RecentEvents } from '../audit/recent-events.ts';
import type { Clock } from '../clock.ts';
import type { ConnectorsConfig } from '../config/parse.ts';
import { GatehouseError } from '../errors/index.ts';
import { connectorRateLimit, type ConnectorRateLimits } from '../edge/rate-limit-connector.ts';
import { CONNECTOR_BODY_LIMIT_BYTES } from '../limits.ts';
import type { Logger } from '../logging/logger.ts';
import type { ConnectorCa } from '../pki/connector-ca.ts';
import { CsrError } from '../pki/errors.ts';
import { verifyCsr, type VerifiedCsr } from '../pki/csr.ts';
import { CONNECTOR_GROUP_PATTERN } from '../protocol/names.ts';
import { instancesEvent } from '../protocol/config-document.ts';
import { ADMIN_CONNECTORS_PATH, CONFIG_PATH, EVENTS_PATH, REGISTER_PATH, REGISTRATION_INFO_PATH, RENEW_PATH } from '../protocol/connector-api.ts';
import { connectorsListHandler } from './admin-api-connectors.ts';
import { createAdminApiRouter } from './admin-api-router.ts';
import type { AdminApiSource } from './admin-api-source.ts';
import type { AdminIdentity, AdminTokenVerifier } from './admin-token.ts';
import type { ConfigVersion } from './config-version.ts';
import { authenticateConnector, type AuthenticatedConnector } from './connector-auth.ts';
import { connectorErrorHandler } from './connector-errors.ts';
import { sendConnectorError } from '../errors/render-connector-plane.ts';
import type { ConnectorEvents } from './connector-events.ts';
import type { ConnectorLifecycle } from './connector-lifecycle.ts';
import type { ConnectorRecord, ConnectorRegistry } from './connector-registry.ts';
import { isRenewalDue, renewalDueAt } from './renewal-schedule.ts';

export interface ConnectorRoutesOptions {
  readonly settings: Pick<ConnectorsConfig, 'admin' | 'renewalAge'>;
  readonly ca: ConnectorCa;
  readonly registry: ConnectorRegistry;
  readonly lifecycle: ConnectorLifecycle;
  readonly configVersion: Pick<ConfigVersion, 'current' | 'documentFor'>;
  readonly events: ConnectorEvents;
  readonly adminTokens: AdminTokenVerifier;
  readonly audit: AuditLog;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Recent audit events, for the admin query API on this listener. */
  readonly recentEvents?: RecentEvents | undefined;
  /** The gateway instances this one knows live, named to each fresh events stream. */
  readonly instances?: () => ReadonlyArray<{ readonly id: string }> | undefined;
  /** Requests per second per address on registration and the admin API (`limits.rate`); absent, not limited. */
  readonly rateLimits?: ConnectorRateLimits | undefined;
  /** The gateway's configuration, readiness and tunnels, for the admin API's apps, what-if and overview; absent, those are not served. */
  readonly adminView?: AdminApiSource | undefined;
}

const registerBody = z.strictObject({
  csr: z.string().min(1).max(CONNECTOR_BODY_LIMIT_BYTES),
  group: z.string().regex(CONNECTOR_GROUP_PATTERN).default('default'),
  name: z
    .string()
    .max(255)
    .regex(/^[\x20-\x7e]*$/)
    .optional(),
});
const renewBody = z.strictObject({ csr: z.string().min(1).max(CONNECTOR_BODY_LIMIT_BYTES) });
const moveBody = z.strictObject({ group: z.string().regex(CONNECTOR_GROUP_PATTERN) });

const CSR_REASONS: Readonly<Record<CsrError['code'], string>> = {
  ERR_CSR_TOO_LARGE: 'too_large',
  ERR_CSR_MALFORMED: 'malformed',
  ERR_CSR_SIGNATURE: 'signature',
  ERR_CSR_KEY_TYPE: 'key_type',
  ERR_CSR_KEY_TOO_SMALL: 'key_too_small',
  ERR_CSR_KEY_CURVE: 'key_curve',
};

interface Locals {
  connector?: AuthenticatedConnector;
  admin?: AdminIdentity;
}

export function createConnectorApp(options: ConnectorRoutesOptions): express.Express {
  const { settings, ca, registry, lifecycle, configVersion, events, adminTokens, logger, clock, recentEvents } = options;
  const renewalDue = (record: ConnectorRecord): boolean => isRenewalDue(record, settings.renewalAge, clock);
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  const json = express.json({ limit: CONNECTOR_BODY_LIMIT_BYTES, strict: true });

  const audit = (req: Request, res: Response, event: AuditEventInput): void => {
    options.audit.emit({
      clientIp: req.socket.remoteAddress,
      userAgent: req.headers['user-agent'],
      requestId: String(res.getHeader('X-Request-Id')),
      ...event,
    });
  };
  const refuse = (req: Request, res: Response, error: GatehouseError, details?: Record<string, string>, detail?: string): void => {
    audit(req, res, { type: 'connector.refused', outcome: 'failure', code: error.code, reason: error.reason, details });
    sendConnectorError(res, error, detail);
  };

  const requireConnector: RequestHandler = async (req, res, next) => {
    try {
      const connector = await authenticateConnector(req, ca, registry, clock());
      (res.locals as Locals).connector = connector;
      events.trackSocket(connector.record.id, req.socket, connector.fingerprint256);
      next();
    } catch (error) {
      if (!(error instanceof GatehouseError)) throw error;
      refuse(req, res, error, { route: req.path });
    }
  };

  const requireAdmin: RequestHandler = async (req, res, next) => {
    try {
      (res.locals as Locals).admin = await adminTokens.verifyHeader(req.headers.authorization);
      next();
    } catch (error) {
      if (!(error instanceof GatehouseError)) throw error;
      refuse(req, res, error, { route: req.path });
    }
  };

  // `details` names who was refused (the admin, the connector): such refusals are never aggregated away in the audit log.
  const parseCsr = (req: Request, res: Response, pem: string, details?: Record<string, string>): VerifiedCsr | undefined => {
    try {
      return verifyCsr(pem);
    } catch (error) {
      if (!(error instanceof CsrError)) throw error;
      refuse(req, res, new GatehouseError('ERR_CSR_INVALID', CSR_REASONS[error.code]), details, error.message);
      return undefined;
    }
  };

  app.use((_req, res, next) => {
    res.setHeader('X-Request-Id', randomUUID());
    next();
  });
  if (options.rateLimits) {
    app.post(REGISTER_PATH, connectorRateLimit(options.rateLimits, 'connectorRegister'));
    app.use([ADMIN_CONNECTORS_PATH, AUDIT_EVENTS_PATH], connectorRateLimit(options.rateLimits, 'connectorAdmin'));
  }

  app.get(REGISTRATION_INFO_PATH, (_req, res) => {
    const admin = settings.admin;
    const resource = admin.resource === undefined ? admin.audience : admin.resource;
    res.json({ issuer: admin.issuer, deviceClientId: admin.deviceClientId, ...(resource === false ? {} : { resource }), scope: admin.scope });
  });

  app.post(REGISTER_PATH, requireAdmin, json, async (req, res) => {
    const admin = (res.locals as Locals).admin!;
    const body = registerBody.safeParse(req.body);
    if (!body.success) {
      refuse(req, res, new GatehouseError('ERR_BAD_REQUEST', 'invalid_body'), { admin: admin.sub });
      return;
    }
    const csr = parseCsr(req, res, body.data.csr, { admin: admin.sub });
    if (!csr) return;
    let issued;
    try {
      issued = await lifecycle.register(csr, body.data.group, body.data.name, admin);
    } catch (error) {
      if (!(error instanceof GatehouseError)) throw error;
      refuse(req, res, error, { admin: admin.sub, group: body.data.group });
      return;
    }
    audit(req, res, {
      type: 'connector.registered',
      outcome: 'success',
      user: admin,
      details: { connectorId: issued.connectorId, group: issued.group, name: body.data.name ?? null },
    });
    res.status(201).set('Cache-Control', 'no-store').json(issued);
  });

  app.get(CONFIG_PATH, requireConnector, async (req, res) => {
    const { record } = (res.locals as Locals).connector!;
    const asked = req.query['group'];
    if (asked !== undefined && asked !== record.group) {
      const named = typeof asked === 'string' ? asked.slice(0, 64) : 'several';
      refuse(req, res, new GatehouseError('ERR_CONNECTOR_GROUP', 'other_group'), { connectorId: record.id, asked: named });
      return;
    }
    res.set('Cache-Control', 'no-store').json(await configVersion.documentFor(record, renewalDue(record)));
  });

  app.get(EVENTS_PATH, requireConnector, (req, res) => {
    const { record } = (res.locals as Locals).connector!;
    events.openStream(record.id, res);
    audit(req, res, { type: 'connector.connected', outcome: 'info', details: { connectorId: record.id, group: record.group } });
    res.once('close', () => {
      options.audit.emit({ type: 'connector.disconnected', outcome: 'info', details: { connectorId: record.id } });
    });
    // A fresh stream starts with where things stand, so nothing said while it was away is lost.
    events.send(record.id, 'config', { version: configVersion.current });
    // The list may have changed between the connector's pull and this stream: it compares and pulls if so.
    const instances = options.instances?.();
    if (instances) events.send(record.id, 'instances', instancesEvent(instances));
    if (renewalDue(record)) events.send(record.id, 'renew', {});
  });

  app.post(RENEW_PATH, requireConnector, json, async (req, res) => {
    const { record, which, fingerprint256 } = (res.locals as Locals).connector!;
    const body = renewBody.safeParse(req.body);
    if (!body.success) {
      refuse(req, res, new GatehouseError('ERR_BAD_REQUEST', 'invalid_body'), { connectorId: record.id });
      return;
    }
    if (which === 'current' && !renewalDue(record)) {
      const dueAt = renewalDueAt(record, settings.renewalAge);
      audit(req, res, { type: 'connector.refused', outcome: 'failure', code: 'ERR_RENEWAL_NOT_DUE', reason: 'not_due', details: { connectorId: record.id } });
      res.status(409).json({
        error: {
          code: 'ERR_RENEWAL_NOT_DUE',
          reason: 'not_due',
          message: 'The current certificate is not yet old enough to be renewed.',
          dueAt,
          requestId: String(res.getHeader('X-Request-Id')),
        },
      });
      return;
    }
    const csr = parseCsr(req, res, body.data.csr, { connectorId: record.id });
    if (!csr) return;
    let renewed;
    try {
      renewed = await lifecycle.renew(record.id, fingerprint256, csr);
    } catch (error) {
      if (!(error instanceof GatehouseError)) throw error;
      refuse(req, res, error, { connectorId: record.id });
      return;
    }
    const { answer, repeated } = renewed;
    audit(req, res, {
      type: 'connector.renewed',
      outcome: 'success',
      details: { connectorId: record.id, group: record.group, notAfter: answer.notAfter, ...(repeated ? { repeated: true } : {}) },
    });
    res.set('Cache-Control', 'no-store').json(answer);
  });

  app.get(
    ADMIN_CONNECTORS_PATH,
    requireAdmin,
    connectorsListHandler({ registry, events, tunnels: () => options.adminView?.tunnels(), renewalAge: settings.renewalAge, recentEvents, clock }),
  );

  app.post(`${ADMIN_CONNECTORS_PATH}/:id/revoke`, requireAdmin, async (req, res) => {
    const admin = (res.locals as Locals).admin!;
    try {
      const record = await lifecycle.revoke(String(req.params['id']), admin);
      res.json({ id: record.id, revoked: true });
    } catch (error) {
      if (!(error instanceof GatehouseError)) throw error;
      sendConnectorError(res, error);
    }
  });

  app.post(`${ADMIN_CONNECTORS_PATH}/:id/group`, requireAdmin, json, async (req, res) => {
    const admin = (res.locals as Locals).admin!;
    const body = moveBody.safeParse(req.body);
    if (!body.success) {
      sendConnectorError(res, new GatehouseError('ERR_BAD_REQUEST', 'invalid_body'));
      return;
    }
    try {
      const record = await lifecycle.moveGroup(String(req.params['id']), body.data.group, admin);
      res.json({ id: record.id, group: record.group });
    } catch (error) {
      if (!(error instanceof GatehouseError)) throw error;
      sendConnectorError(res, error);
    }
  });

  app.use(createAdminApiRouter(options, requireAdmin));
  if (recentEvents) {
    app.use(createAuditQueryRouter({ store: recentEvents, verifier: adminTokens, audit: options.audit }));
  }

  app.use((_req, res) => sendConnectorError(res, new GatehouseError('ERR_NOT_FOUND', 'no_route')));
  app.use(connectorErrorHandler(logger));
  return app;
}
