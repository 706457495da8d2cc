/**
 * The admin API's views beyond the connectors' list and the events: apps,
 * what-if and the overview (docs/operations.md, "Admin API and `gatehouse
 * admin`"). Same admin token check, same rate limit as the rest of the admin
 * API on the connector listener; input validated by zod, refused with
 * ERR_BAD_REQUEST and a one-line reason.
 */
import express, { type RequestHandler, type Response, type Router } from 'express';
import { z } from 'zod';
import { connectorRateLimit } from '../edge/rate-limit-connector.ts';
import { GatehouseError } from '../errors/index.ts';
import { CONNECTOR_BODY_LIMIT_BYTES } from '../limits.ts';
import { ADMIN_APPS_PATH, ADMIN_OVERVIEW_PATH, ADMIN_WHAT_IF_SUFFIX } from '../protocol/connector-api.ts';
import { appsHandler, whatIfHandler } from './admin-api-apps.ts';
import { connectorStates, groupState } from './admin-api-groups.ts';
import { overviewHandler } from './admin-api-overview.ts';
import { inputProblem } from './admin-api-source.ts';
import type { ConnectorEvents } from './connector-events.ts';
import type { ConnectorRegistry } from './connector-registry.ts';
import type { Clock } from '../clock.ts';
import type { ConnectorsConfig } from '../config/parse.ts';
import type { ConnectorRateLimits } from '../edge/rate-limit-connector.ts';
import type { AdminApiSource } from './admin-api-source.ts';
import { isRenewalDue } from './renewal-schedule.ts';

const noQuery = z.strictObject({});

function badInput(res: Response, reason: string, issues: z.core.$ZodIssue[]): void {
  const error = new GatehouseError('ERR_BAD_REQUEST', reason);
  res
    .status(error.status)
    .set('Cache-Control', 'no-store')
    .json({ error: { code: error.code, reason, message: inputProblem(issues), requestId: String(res.getHeader('X-Request-Id') ?? '') } });
}

/** Refuses a query string on the endpoints that take none: a typo never passes for a filter. */
const withoutQuery: RequestHandler = (req, res, next) => {
  const parsed = noQuery.safeParse(req.query);
  if (parsed.success) next();
  else badInput(res, 'invalid_query', parsed.error.issues);
};

/** The connector routes' options these views read (the connector routes pass theirs). */
export interface AdminApiRouterOptions {
  readonly adminView?: AdminApiSource | undefined;
  readonly settings: Pick<ConnectorsConfig, 'renewalAge'>;
  readonly registry: Pick<ConnectorRegistry, 'all'>;
  readonly events: Pick<ConnectorEvents, 'isConnected'>;
  readonly clock: Clock;
  readonly rateLimits?: ConnectorRateLimits | undefined;
  readonly instances?: (() => ReadonlyArray<{ readonly id: string }> | undefined) | undefined;
}

/** An empty router when the gateway gave no source (a connector service on its own, in tests). */
export function createAdminApiRouter(options: AdminApiRouterOptions, requireAdmin: RequestHandler): Router {
  const router = express.Router();
  const source = options.adminView;
  if (!source) return router;
  const { registry, events, clock } = options;
  const json = express.json({ limit: CONNECTOR_BODY_LIMIT_BYTES, strict: true });
  const stateOf = (group: string) => groupState(group, connectorStates(registry.all(), events, source.tunnels()));
  const renewalDue = (record: Parameters<typeof isRenewalDue>[0]): boolean => isRenewalDue(record, options.settings.renewalAge, clock);

  if (options.rateLimits) router.use([ADMIN_APPS_PATH, ADMIN_OVERVIEW_PATH], connectorRateLimit(options.rateLimits, 'connectorAdmin'));
  router.get(ADMIN_APPS_PATH, requireAdmin, withoutQuery, appsHandler(source, stateOf));
  router.post(
    `${ADMIN_APPS_PATH}/:id${ADMIN_WHAT_IF_SUFFIX}`,
    requireAdmin,
    withoutQuery,
    json,
    whatIfHandler(source, clock, (res, issues) => badInput(res, 'invalid_body', issues)),
  );
  router.get(ADMIN_OVERVIEW_PATH, requireAdmin, withoutQuery, overviewHandler({ source, registry, events, clock, renewalDue, instances: options.instances }));
  return router;
}
