/**
 * The health endpoints on the published hosts: the first step of the request
 * path, before the robots denier, sign-in and the session gate, so a load
 * balancer in front of a protected app can probe it without a session, and
 * the probe never reaches the backend.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createClientIpResolver } from '../request/client-ip.ts';
import type { AppTable } from '../request/app-resolution.ts';
import { startRequest } from '../request/request-context.ts';
import { X_ROBOTS_TAG } from '../robots/robots-denier.ts';
import { answerHealth, healthEndpoint, type ReadinessReport } from './health-handler.ts';

export interface HealthRouteOptions {
  readonly readiness: () => Promise<ReadinessReport>;
  readonly table: AppTable;
  /**
   * `reject`: the gateway owns the server, so the endpoints answer on any host (a load balancer often probes by
   * address); `next`: only on published hosts, the others belong to the host application.
   */
  readonly unknownHost: 'reject' | 'next';
  readonly trustedProxies: readonly string[];
}

export function healthRoute(options: HealthRouteOptions): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  const clientIp = createClientIpResolver(options.trustedProxies);
  return (req, res, next) => {
    const endpoint = healthEndpoint(req.url);
    if (endpoint === undefined) {
      next();
      return;
    }
    const app = options.table(req);
    if (!app && options.unknownHost === 'next') {
      next();
      return;
    }
    // A context like any request's, so the access log and the metrics name the step that answered.
    const context = startRequest(req, clientIp);
    if (app) context.app = app;
    context.step = 'health';
    res.setHeader('X-Request-Id', context.requestId);
    res.setHeader('X-Robots-Tag', X_ROBOTS_TAG);
    answerHealth(req, res, endpoint, options.readiness);
  };
}
