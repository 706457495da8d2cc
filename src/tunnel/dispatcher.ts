import type { IncomingMessage } from 'node:http';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AppConfig } from '../config/parse.ts';
import type { StreamShare } from '../config/stream-limits-schema.ts';
import { GatehouseError } from '../errors/index.ts';
import type { Logger } from '../logging/logger.ts';
import type { ForwardingRules } from '../forwarding/upstream-request.ts';
import { createAppProxy, type AppProxy } from '../forwarding/app-proxy.ts';
import { auditContext } from '../request/audit-context.ts';
import { getRequestContext } from '../request/context.ts';
import type { Forwarder } from '../forwarding/direct-forwarder.ts';
import { sendError } from '../errors/render-user.ts';
import { rejectUpgrade } from '../errors/render-raw.ts';
import { TunnelAgent } from './tunnel-agent.ts';
import type { TunnelPool } from './tunnel-pool.ts';
import { isTunnelError } from '../errors/tunnel-error.ts';
import { TUNNEL_QUEUE_RETRY_AFTER_SECONDS } from '../limits.ts';

export interface TunnelDispatcherOptions {
  readonly apps: readonly AppConfig[];
  readonly pool: TunnelPool;
  /** What the forwarding step removes from requests (built once by the gateway). */
  readonly rules: ForwardingRules;
  readonly audit: AuditLog;
  readonly logger: Logger;
  /** Told, per request and app, the seconds from the dispatch into a tunnel stream to the response headers (metrics). */
  readonly onResponseHead?: (appId: string, seconds: number) => void;
  /** The share of a group's streams an app of a shared group may hold without its own `limits.streams`. Default APP_STREAM_SHARE_PERCENT. */
  readonly appShare?: StreamShare;
}

/**
 * Step 7 with connectors: picks a healthy connector of the app's group (the
 * pool balances by fewest in-flight streams) and forwards through its tunnel,
 * streaming both ways. When every tunnel of the group is at its stream limit
 * the request waits for a stream (the pool's queue), and so does a request of
 * an app that holds its share of the group's streams. No connector online, a
 * full queue or an expired wait: 503 naming the app, with Retry-After.
 */
export function createTunnelDispatcher(options: TunnelDispatcherOptions): Forwarder {
  // Each configuration (a reload builds a new dispatcher) says which apps share a group, and their shares.
  options.pool.configureShares(
    options.apps.map((app) => ({ id: app.id, connectorGroup: app.connectorGroup, share: app.limits.streams })),
    options.appShare,
  );
  const agents: TunnelAgent[] = [];
  const proxies = new Map<string, AppProxy>();
  for (const app of options.apps) {
    const agent = new TunnelAgent({
      pool: options.pool,
      app: { id: app.id, connectorGroup: app.connectorGroup },
      protocol: new URL(app.internalUrl).protocol === 'https:' ? 'https:' : 'http:',
      log: options.logger,
    });
    agents.push(agent);
    proxies.set(
      app.id,
      createAppProxy({
        app,
        agent,
        rules: options.rules,
        audit: options.audit,
        logger: options.logger,
        // Who failed, in the user's terms (the table's shownAs); the connector's own reason (e.g. target_refused) goes to the audit log.
        classify: (error) => (isTunnelError(error) ? new GatehouseError(error.shownAs, error.reason.toLowerCase()) : undefined),
        ...(options.onResponseHead ? { onResponseHead: (seconds: number) => options.onResponseHead?.(app.id, seconds) } : {}),
        retryAfterSeconds: TUNNEL_QUEUE_RETRY_AFTER_SECONDS,
      }),
    );
  }

  const noConnector = (req: IncomingMessage, app: AppConfig): GatehouseError | undefined => {
    if (options.pool.has(app.connectorGroup)) return undefined;
    const error = new GatehouseError('ERR_NO_CONNECTOR', 'no_connector_online');
    options.audit.emit({
      type: 'forward.failed',
      outcome: 'failure',
      code: error.code,
      reason: error.reason,
      details: { group: app.connectorGroup },
      ...auditContext(req),
    });
    return error;
  };

  return {
    handler: (req, res, next) => {
      const app = getRequestContext(req)?.app;
      const proxy = app ? proxies.get(app.id) : undefined;
      if (!app || !proxy) {
        next();
        return;
      }
      const refused = noConnector(req, app);
      if (refused) {
        res.setHeader('Retry-After', String(TUNNEL_QUEUE_RETRY_AFTER_SECONDS));
        sendError(req, res, refused);
        return;
      }
      return proxy.web(req, res, next);
    },
    upgrade(req, socket, head) {
      const app = getRequestContext(req)?.app;
      const proxy = app ? proxies.get(app.id) : undefined;
      if (!app || !proxy) {
        socket.destroy();
        return;
      }
      const refused = noConnector(req, app);
      if (refused) {
        rejectUpgrade(socket, refused, { requestId: getRequestContext(req)?.requestId, appId: app.id, retryAfterSeconds: TUNNEL_QUEUE_RETRY_AFTER_SECONDS });
        return;
      }
      proxy.upgrade(req, socket, head);
    },
    close() {
      for (const agent of agents) agent.destroy();
    },
  };
}
