import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Router } from 'express';
import type { AccessControl } from '../access/access-control.ts';
import { conditionalAccessStep } from '../access/conditional-access.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { GatewayConfig } from '../config/parse.ts';
import type { Forwarder } from '../forwarding/direct-forwarder.ts';
import type { IdentityAssertions } from '../forwarding/identity-assertion.ts';
import { identityAssertionStep } from '../forwarding/identity-assertion-step.ts';
import type { Logger } from '../logging/logger.ts';
import type { GatewayMetrics } from '../metrics/gateway-metrics.ts';
import { requestMetrics, upgradeMetrics } from '../metrics/request-metrics.ts';
import { errorHandler } from '../middleware/error-handler.ts';
import { appResolution } from '../middleware/app-resolution.ts';
import { conditionalAccess } from '../middleware/conditional-access.ts';
import { identityForwarding } from '../middleware/identity-forwarding.ts';
import { oidcPreauth } from '../middleware/oidc-preauth.ts';
import { requestContext } from '../middleware/request-context.ts';
import { sessionGate } from '../middleware/session-gate.ts';
import { createUpgradeHandler } from '../middleware/upgrade-handler.ts';
import { appResolutionStep, createAppTable } from '../request/app-resolution.ts';
import { requestChecks } from '../request/request-context.ts';
import { reservedPath } from '../request/request-target.ts';
import { getRequestContext } from '../request/context.ts';
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

  const handler = Router();
  if (parts.metrics) handler.use(requestMetrics(parts.metrics));
  handler.use(
    robotsDenier({
      skip: (req) => {
        const app = table(req);
        return app ? app.crawlers === 'backend' : unknownHost === 'next';
      },
    }),
  );
  handler.use(requestContext({ trustedProxies: config.trustedProxies, audit }));
  handler.use(appResolution({ apps: config.apps, unknownHost, audit, table }));
  // The gateway's public keys, for backends verifying the identity assertion (on every published host).
  handler.get('/.gatehouse/jwks.json', async (req, res, next) => {
    if (!getRequestContext(req)?.app) {
      next();
      return;
    }
    res.set('Cache-Control', 'public, max-age=300').json(await assertions.jwks());
  });
  handler.use(oidcPreauth(parts.signIn));
  handler.use(sessionGate({ sessions, audit }));
  handler.use(conditionalAccess(access, audit));
  handler.use(identityForwarding(assertions));
  handler.use(parts.forwarder.handler);
  handler.use(errorHandler(parts.logger));

  const upgrade = createUpgradeHandler({
    steps: [
      requestChecks,
      appResolutionStep({ table, unknownHost: 'reject' }),
      websocketOnly,
      reservedPath,
      sameOrigin,
      sessionGateStep({ sessions, audit }),
      conditionalAccessStep(access, audit),
      identityAssertionStep(assertions),
    ],
    table,
    trustedProxies: config.trustedProxies,
    forwarder: parts.forwarder,
    sessions,
    sockets: parts.sockets,
    access,
    audit,
    logger: parts.logger,
    unknownHost,
    ...(parts.metrics ? { onUpgrade: upgradeMetrics(parts.metrics) } : {}),
  });
  return { handler, upgrade };
}
