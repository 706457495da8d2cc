import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import type { AccessControl } from '../access/access-control.ts';
import { conditionalAccessStep } from '../access/conditional-access.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { bearerStep } from '../bearer/bearer-step.ts';
import { rateLimitStep } from '../edge/rate-limit-step.ts';
import type { RateLimiter } from '../edge/rate-limiter.ts';
import type { GatewayConfig } from '../config/parse.ts';
import { WebSocketCaps } from '../edge/websocket-caps.ts';
import { websocketLimits } from '../edge/websocket-limits.ts';
import type { Forwarder } from '../forwarding/direct-forwarder.ts';
import type { IdentityAssertions } from '../forwarding/identity-assertion.ts';
import { identityAssertionStep } from '../forwarding/identity-assertion-step.ts';
import type { ReadinessReport } from '../health/health-handler.ts';
import { healthRoute } from '../health/health-route.ts';
import { createAccessLog } from '../logging/access-log.ts';
import type { Logger } from '../logging/logger.ts';
import type { GatewayMetrics } from '../metrics/gateway-metrics.ts';
import { requestMetrics, upgradeMetrics } from '../metrics/request-metrics.ts';
import { errorHandler } from '../middleware/error-handler.ts';
import { expressStep } from '../middleware/express-step.ts';
import { appResolution } from '../middleware/app-resolution.ts';
import { conditionalAccess } from '../middleware/conditional-access.ts';
import { identityForwarding } from '../middleware/identity-forwarding.ts';
import { oidcPreauth } from '../middleware/oidc-preauth.ts';
import { requestContext } from '../middleware/request-context.ts';
import { sessionGate } from '../middleware/session-gate.ts';
import { unreadBody } from '../middleware/unread-body.ts';
import { createUpgradeHandler } from '../middleware/upgrade-handler.ts';
import { appResolutionStep, createAppTable } from '../request/app-resolution.ts';
import { requestChecks } from '../request/request-context.ts';
import { reservedPath } from '../request/request-target.ts';
import { getRequestContext, type RequestStep } from '../request/context.ts';
import type { Step } from '../request/step.ts';
import { sameOrigin, websocketOnly } from '../request/upgrade-checks.ts';
import { robotsDenier } from '../robots/robots-denier.ts';
import { sessionGateStep } from '../session/session-gate.ts';
import type { SessionManager } from '../session/session-manager.ts';
import type { SessionSockets } from '../session/session-sockets.ts';
import type { PreauthDeps } from '../signin/signin-deps.ts';

export interface RequestPathParts {
  readonly config: GatewayConfig;
  readonly unknownHost: 'reject' | 'next';
  readonly audit: AuditLog;
  readonly logger: Logger;
  readonly sessions: SessionManager;
  readonly sockets: SessionSockets;
  readonly access: AccessControl;
  readonly assertions: IdentityAssertions;
  /** What the sign-in endpoints need. */
  readonly signIn: PreauthDeps;
  readonly forwarder: Forwarder;
  /** The gateway's metrics: every request counted and timed, every upgrade counted. */
  readonly metrics?: GatewayMetrics;
  /** The readiness checks `/.gatehouse/readyz` runs; absent, the health endpoints are not served. */
  readonly health?: () => Promise<ReadinessReport>;
  /** Requests per second per client address without a session or access token (`limits.rate`); absent, not limited. */
  readonly rateLimiter?: RateLimiter;
  /** The WebSockets open per session and per client address, shared by every generation (a reload must not reset them). */
  readonly websockets?: WebSocketCaps;
}

export interface RequestPath {
  /** The Express router requests take. */
  readonly handler: Router;
  /** The server's `upgrade` listener: WebSocket upgrades take the same steps. */
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

/**
 * The request path: each step is one function, mounted in the Express router for requests (through its adapter in
 * middleware/) and run by the upgrade handler for WebSocket upgrades, so the two cannot check different things. What only one of them has stays
 * there: robots.txt, the public keys and the sign-in endpoints are pages; the Origin check and the WebSocket-only
 * rule concern upgrades.
 */
export function createRequestPath(parts: RequestPathParts): RequestPath {
  const { config, unknownHost, audit, sessions, access, assertions } = parts;
  const table = createAppTable(config.apps);
  // Apps with `bearer`: an access token authenticates the request before the session gate looks for a cookie.
  const bearer = bearerStep({ oidc: parts.signIn.oidc, sessions, audit, clock: parts.signIn.clock });

  const accessLog = config.logging.accessLog.enabled
    ? createAccessLog({ logger: parts.logger, query: config.logging.accessLog.query, trustedProxies: config.trustedProxies, unknownHost })
    : undefined;

  const handler = Router();
  handler.use(unreadBody());
  if (accessLog) handler.use(accessLog.http);
  if (parts.metrics) handler.use(requestMetrics(parts.metrics));
  if (parts.health) handler.use(healthRoute({ readiness: parts.health, table, unknownHost, trustedProxies: config.trustedProxies }));
  handler.use(
    step(
      'robots',
      robotsDenier({
        skip: (req) => {
          const app = table(req);
          return app ? app.crawlers === 'backend' : unknownHost === 'next';
        },
      }),
    ),
  );
  handler.use(step('request-checks', requestContext({ trustedProxies: config.trustedProxies, audit })));
  handler.use(step('app-resolution', appResolution({ apps: config.apps, unknownHost, audit, table })));
  // Before anything that costs more than a lookup: the sign-in endpoints seal and audit, the session gate unseals.
  if (parts.rateLimiter) {
    const rate = { limiter: parts.rateLimiter, settings: config.limits.rate, apps: config.apps, sessionCookieBase: config.session.cookieName };
    handler.use(step('request-checks', rateLimitStep(rate)));
  }
  // The gateway's public keys, for backends verifying the identity assertion (on every published host).
  const jwks = Router();
  jwks.get(
    '/.gatehouse/jwks.json',
    step('jwks', async (req, res, next) => {
      if (!getRequestContext(req)?.app) {
        next();
        return;
      }
      res.set('Cache-Control', 'public, max-age=300').json(await assertions.jwks());
    }),
  );
  handler.use(underReservedPrefix(jwks));
  // Every request passes the sign-in router, whose end answers a turn of the event loop later: by then a small body
  // sent with its head has arrived, so an early refusal drains it and keeps the connection (see unread-body.ts).
  handler.use(step('signin', oidcPreauth(parts.signIn)));
  handler.use(step('session-gate', expressStep(bearer, audit)));
  handler.use(step('session-gate', sessionGate({ sessions, audit })));
  handler.use(step('conditional-access', conditionalAccess(access, audit)));
  handler.use(step('identity', identityForwarding(assertions)));
  handler.use(step('upstream', parts.forwarder.handler));
  handler.use(errorStep(errorHandler(parts.logger)));

  const upgrade = createUpgradeHandler({
    // Named as their counterparts in the router: the reserved path is refused there by the sign-in endpoints, and the
    // WebSocket-only and Origin rules are checks of the request.
    steps: [
      upgradeStep('request-checks', requestChecks),
      upgradeStep('app-resolution', appResolutionStep({ table, unknownHost: 'reject' })),
      upgradeStep('request-checks', websocketOnly),
      upgradeStep('signin', reservedPath),
      upgradeStep('request-checks', sameOrigin),
      upgradeStep('session-gate', bearer),
      upgradeStep('session-gate', sessionGateStep({ sessions, audit })),
      upgradeStep('conditional-access', conditionalAccessStep(access, audit)),
      upgradeStep('identity', identityAssertionStep(assertions)),
      upgradeStep('request-checks', websocketLimits(config, parts.websockets ?? new WebSocketCaps(), parts.metrics)),
    ],
    table,
    trustedProxies: config.trustedProxies,
    forwarder: {
      ...parts.forwarder,
      upgrade: (req, socket, head) => {
        markStep(req, 'upstream');
        parts.forwarder.upgrade(req, socket, head);
      },
    },
    sessions,
    sockets: parts.sockets,
    access,
    audit,
    logger: parts.logger,
    unknownHost,
    ...(parts.metrics ? { onUpgrade: upgradeMetrics(parts.metrics) } : {}),
    ...(accessLog ? { watch: accessLog.upgrade } : {}),
  });
  return { handler, upgrade };
}

/**
 * Express matches each of a router's routes against every request it is given; the public keys' route starts with
 * the reserved prefix (in any case: the router ignores case), so a request outside it skips the router.
 */
function underReservedPrefix(router: RequestHandler): RequestHandler {
  return (req, res, next) => {
    const url = req.url;
    if (url.length >= RESERVED_PREFIX.length && url.slice(0, RESERVED_PREFIX.length).toLowerCase() === RESERVED_PREFIX) return router(req, res, next);
    next();
    return undefined;
  };
}

const RESERVED_PREFIX = '/.gatehouse/';

/** Records on the request's context the step it entered last: once the answer is sent, the step that answered. */
function markStep(req: IncomingMessage, name: RequestStep): void {
  const context = getRequestContext(req);
  if (context) context.step = name;
}

/**
 * A step of the router, recording its name on entry. The request context is made by the request-checks step, so a
 * step entered before it has nowhere to record: the robots denier is that step, and a request answered without a
 * context was answered by it (access log and metrics read it so). Request checks record once they made the context,
 * unless a later step recorded already.
 */
function step(name: RequestStep, middleware: RequestHandler): RequestHandler {
  return (req, res, next) => {
    if (getRequestContext(req)) {
      markStep(req, name);
      return middleware(req, res, next);
    }
    const returned = middleware(req, res, next);
    const context = getRequestContext(req);
    if (context && context.step === undefined) context.step = name;
    return returned;
  };
}

/** The error handler, recording `error` when it answers for a request of ours. */
function errorStep(middleware: ErrorRequestHandler): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    markStep(req, 'error');
    return middleware(error, req, res, next);
  };
}

/** A step of the upgrade handler, recording its name as it runs. */
function upgradeStep(name: RequestStep, run: Step): Step {
  return (input) => {
    input.context.step = name;
    return run(input);
  };
}
