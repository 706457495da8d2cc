import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { Router } from 'express';
import { AuditLog } from '../audit/audit-log.ts';
import type { AuditSink } from '../audit/events.ts';
import { systemClock, type Clock } from '../clock.ts';
import { parseGatewayConfig, type GatewayConfig } from '../config/parse.ts';
import { sharedOriginWarnings } from '../config/shared-origin-warnings.ts';
import type { GatewayConfigInput } from '../config/schema.ts';
import { ERROR_TABLE } from '../errors.ts';
import { SERVER_HEADERS_TIMEOUT_MS, SERVER_KEEP_ALIVE_TIMEOUT_MS, SERVER_REQUEST_TIMEOUT_MS } from '../limits.ts';
import { createLogger, type Logger } from '../logging/logger.ts';
import { appResolution, createAppTable } from '../request/app-resolution.ts';
import { errorHandler } from '../middleware/error-handler.ts';
import { getRequestContext } from '../request/context.ts';
import { IdentityAssertions } from '../forwarding/identity-assertion.ts';
import { identityForwarding } from '../forwarding/identity-forwarding.ts';
import { AccessControl } from '../access/access-control.ts';
import { conditionalAccess } from '../middleware/conditional-access.ts';
import type { RiskProvider } from '../policy/types.ts';
import { createAuditSinks, type AuditSinks } from '../audit/create-audit-sinks.ts';
import { recentEvents } from '../audit/recent-events.ts';
import { combineRisk } from '../risk/combine-risk.ts';
import { createBuiltInRisk } from '../risk/built-in-risk.ts';
import { safeRiskProvider } from '../risk/safe-risk-provider.ts';
import { createUpgradeHandler } from '../middleware/upgrade-handler.ts';
import { SessionSockets } from '../session/session-sockets.ts';
import { createDirectForwarder, type Forwarder } from '../forwarding/direct-forwarder.ts';
import { createForwardingRules, type ForwardingRules } from '../forwarding/upstream-request.ts';
import { oidcPreauth } from '../middleware/oidc-preauth.ts';
import type { PreauthDeps } from '../signin/signin-deps.ts';
import { requestContext } from '../request/request-context.ts';
import { sessionGate } from '../middleware/session-gate.ts';
import { OidcClient, type IdpFetch } from '../signin/oidc-client.ts';
import { SignInLoopDetector } from '../signin/signin-loop.ts';
import { TransactionCookies } from '../signin/transaction-cookies.ts';
import { robotsDenier } from '../robots/robots-denier.ts';
import { deriveSealKeys } from '../session/seal-keys.ts';
import type { Store } from '../store/store.ts';
import { ConnectorService } from '../connector-plane/connector-service.ts';
import { createTunnelDispatcher } from '../tunnel/dispatcher.ts';
import type { TunnelPool } from '../tunnel/tunnel-pool.ts';
import { SessionManager } from '../session/session-manager.ts';
import { MemorySessionStore, type SessionStore } from '../session/session-store.ts';

export interface ForwarderFactoryContext {
  readonly config: GatewayConfig;
  /** What the forwarding step removes from every request: give it to createDirectForwarder or your own forwarder. */
  readonly rules: ForwardingRules;
  readonly audit: AuditLog;
  readonly logger: Logger;
  /** The connectors' live tunnels, when `connectors` is configured. */
  readonly tunnels: TunnelPool | undefined;
}

export interface GatewayOptions {
  /** Milliseconds since the epoch; every expiry decision uses it. Default: Date.now. */
  readonly clock?: Clock;
  /** Where audit events go. Default: JSON lines on stdout. */
  readonly audit?: AuditSink | readonly AuditSink[];
  /** pino logger for operational messages. Default: silent. */
  readonly logger?: Logger;
  /** HTTP client for the identity provider (discovery, keys, token endpoint). */
  readonly idpFetch?: IdpFetch;
  /** Revocations and server-side session data. Default: bounded, in memory. */
  readonly sessionStore?: SessionStore;
  /** What to do with requests for hosts that publish no app: 404 (default) or leave them to the host app. */
  readonly unknownHost?: 'reject' | 'next';
  /** The forwarding step (step 6). Default: through the connectors' tunnels when `connectors` is configured, else straight to each app's internal URL. */
  readonly forwarder?: (context: ForwarderFactoryContext) => Forwarder;
  /** Relative `…File` paths in the config are resolved against this folder. */
  readonly baseDir?: string;
  /** Where the connector CA and registry live. Default: a FileStore in connectors.stateDir. */
  readonly connectorStore?: Store;
  /** Your own user and sign-in risk, combined with the built-in signals (the higher level wins). */
  readonly riskProvider?: RiskProvider;
  /** How often open WebSockets are checked again (session still valid, policy still allowing). Default SOCKET_RECHECK_INTERVAL_MS (30 s). */
  readonly socketRecheckIntervalMs?: number;
  /**
   * Test mode, for `gatehouse/testing`: lets your tests mint sessions sealed
   * with this gateway's real keys. Never set it in production: the gateway
   * prints a warning at start when it is on.
   */
  readonly testing?: boolean;
}

/** What `gatehouse/testing` reaches through; present only on gateways created with `testing: true`. */
export const TESTING_HOOKS: unique symbol = Symbol.for('gatehouse.testing');

export interface TestSessionUser {
  readonly sub: string;
  readonly name?: string;
  readonly email?: string;
  readonly groups?: readonly string[];
  readonly amr?: readonly string[];
  readonly acr?: string;
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Session lifetime, seconds. Default 1 hour. */
  readonly lifetime?: number;
}

export interface TestingHooks {
  /** A `name=value` Cookie header for a session of `user` on the app, sealed by the real session code. */
  sessionCookie(appId: string, user: TestSessionUser): Promise<string>;
}

export interface Gateway {
  readonly [TESTING_HOOKS]?: TestingHooks;
  /** Mount on an Express app (at its root): `app.use(gateway.handler)`. */
  readonly handler: Router;
  readonly config: GatewayConfig;
  readonly audit: AuditLog;
  /** The connector plane, when `connectors` is configured: call `listen()` to open its listener. */
  readonly connectors: ConnectorService | undefined;
  /** Resolves once the identity provider's metadata is discovered; rejects with ERR_IDP_UNAVAILABLE. */
  ready(): Promise<void>;
  /** Sets timeouts, the WebSocket upgrade listener and a clientError handler on the server that carries the handler. Returns the function that removes the listeners again. */
  attach(server: HttpServer | HttpsServer): () => void;
  /** Reopens the audit file (after log rotation; `gatehouse serve` does it on SIGHUP). */
  reopenAuditFile(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Builds the whole cloud side from one configuration, validated here once:
 * robots denier, app resolution, sign-in endpoints, session gate, forwarding.
 */
export function createGateway(input: GatewayConfigInput | GatewayConfig, options: GatewayOptions = {}): Gateway {
  const config = parseGatewayConfig(input, options.baseDir !== undefined ? { baseDir: options.baseDir } : {});
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger();
  for (const warning of sharedOriginWarnings(config)) logger.warn({ warning }, 'configuration opens a protected app to anonymous users');
  // Sinks given in code replace the configured ones (tests, embedders); the recent-events store is always there.
  let configured: AuditSinks | undefined;
  let sinks: readonly AuditSink[];
  let recent;
  if (options.audit === undefined) {
    configured = createAuditSinks(config.audit, {
      baseDir: config.baseDir,
      clock,
      onDrop: (report) => logger.warn({ report }, 'audit events dropped'),
      onWebhookError: (failure) => logger.warn({ failure }, 'audit webhook failed'),
      onFileError: (error) => logger.error({ err: error }, 'audit file failed'),
    });
    sinks = configured.sinks;
    recent = configured.recent;
  } else {
    recent = recentEvents(config.audit.recent.capacity);
    const given: readonly AuditSink[] = Array.isArray(options.audit) ? (options.audit as readonly AuditSink[]) : [options.audit as AuditSink];
    sinks = [...given, recent];
  }
  const audit = new AuditLog(sinks, { clock, onSinkError: (error) => logger.error({ err: error }, 'audit sink failed') });
  const builtInRisk = config.risk.enabled ? createBuiltInRisk({ settings: config.risk, clock }) : undefined;
  const customRisk = options.riskProvider
    ? safeRiskProvider(options.riskProvider, {
        ...config.risk.customProvider,
        onFailure: (failure) =>
          audit.emit({ type: 'risk.provider_failed', outcome: 'failure', reason: failure.reason, details: { onError: config.risk.customProvider.onError } }),
      })
    : undefined;
  const riskProviders = [builtInRisk?.provider, customRisk].filter((provider): provider is RiskProvider => provider !== undefined);
  const risk = riskProviders.length > 0 ? combineRisk(...riskProviders) : undefined;
  const store =
    options.sessionStore ??
    new MemorySessionStore({
      onRevocationOverflow: (refusedBefore) =>
        audit.emit({ type: 'session.revocation_overflow', outcome: 'info', reason: 'revocation_list_full', details: { refusedBefore } }),
      onSideDataFull: (stats) => logger.warn({ stats }, 'session store full: sign-ins that need server-side session data are refused'),
    });
  const keys = deriveSealKeys(config.session.secrets);
  const sessions = new SessionManager({
    cookieName: config.session.cookieName,
    keys,
    store,
    clock,
    defaults: {
      maxLifetime: config.session.maxLifetime,
      idleTimeout: config.session.idleTimeout,
      persistent: config.session.persistent,
    },
  });
  const sockets = new SessionSockets(clock, options.socketRecheckIntervalMs !== undefined ? { recheckIntervalMs: options.socketRecheckIntervalMs } : {});
  const access = new AccessControl({
    apps: config.apps,
    namedLocations: config.namedLocations,
    mfa: config.mfa,
    risk,
    audit,
    clock,
  });
  const oidc = new OidcClient({ settings: config.identityProvider, clock, fetch: options.idpFetch });
  const deps: PreauthDeps = {
    oidc,
    sessions,
    store,
    transactions: new TransactionCookies(keys.transaction, clock),
    loops: new SignInLoopDetector(clock, keys.loop),
    audit,
    clock,
    scopes: config.identityProvider.scopes,
    clientId: config.identityProvider.clientId,
    sockets,
    access,
    ...(builtInRisk
      ? {
          signIns: {
            failure: (event) => builtInRisk.recordSignInFailure(event),
            success: (event) => builtInRisk.recordSignInSuccess(event),
          },
        }
      : {}),
  };
  const connectors = config.connectors
    ? new ConnectorService({
        config: config.connectors,
        apps: config.apps,
        clock,
        audit,
        logger,
        clockToleranceSeconds: config.identityProvider.clockToleranceSeconds,
        jwksUri: () => oidc.jwksUri(),
        idpFetch: oidc.fetch,
        recentEvents: recent,
        ...(options.connectorStore ? { store: options.connectorStore } : {}),
      })
    : undefined;
  const assertions = new IdentityAssertions({
    issuer: config.identityAssertion.issuer,
    lifetime: config.identityAssertion.lifetime,
    keyPem: config.identityAssertion.key,
    store: async () => (connectors ? connectors.store() : options.connectorStore),
    clock,
  });
  const rules = createForwardingRules({
    apps: config.apps,
    sessionCookieBase: config.session.cookieName,
    stripRequestHeaders: config.forwarding.stripRequestHeaders,
    passRequestHeaders: config.forwarding.passRequestHeaders,
  });
  const forwarder = (options.forwarder ?? defaultForwarder)({ config, rules, audit, logger, tunnels: connectors?.tunnels });

  const unknownHost = options.unknownHost ?? 'reject';
  const table = createAppTable(config.apps);
  const handler = Router();
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
  handler.use(oidcPreauth(deps));
  handler.use(sessionGate({ sessions, audit }));
  handler.use(conditionalAccess(access, audit));
  handler.use(identityForwarding(assertions));
  handler.use(forwarder.handler);
  handler.use(errorHandler(logger));
  const upgrade = createUpgradeHandler({
    table,
    trustedProxies: config.trustedProxies,
    sessions,
    sockets,
    assertions,
    forwarder,
    access,
    audit,
    logger,
    unknownHost,
  });

  let testing: TestingHooks | undefined;
  if (options.testing === true) {
    const message = "Gatehouse TEST MODE is on: tests can mint sessions with this gateway's keys. Never run a production gateway with { testing: true }.";
    logger.warn(message);
    process.emitWarning(message, { code: 'GATEHOUSE_TEST_MODE' });
    testing = {
      async sessionCookie(appId, user) {
        const app = config.apps.find((candidate) => candidate.id === appId);
        if (!app) throw new TypeError(`sessionCookie: no app "${appId}" in this gateway`);
        const now = Math.floor(clock() / 1000);
        const issued = await sessions.issue(app, {
          sub: user.sub,
          name: user.name,
          email: user.email,
          groups: user.groups ?? [],
          amr: user.amr ?? ['pwd'],
          acr: user.acr,
          authTime: now,
          idTokenExpiresAt: now + (user.lifetime ?? 3600),
          idToken: 'test-session-without-id-token',
          ...(user.claims ? { claims: user.claims } : {}),
        });
        return issued.setCookie.split(';')[0] ?? '';
      },
    };
  }

  return {
    ...(testing ? { [TESTING_HOOKS]: testing } : {}),
    handler,
    config,
    audit,
    connectors,
    async ready() {
      await Promise.all([oidc.configuration(), connectors?.init(), assertions.ready()]);
    },
    attach(server) {
      server.headersTimeout = config.server.headersTimeout !== undefined ? config.server.headersTimeout * 1000 : SERVER_HEADERS_TIMEOUT_MS;
      server.requestTimeout = SERVER_REQUEST_TIMEOUT_MS;
      server.keepAliveTimeout = config.server.keepAliveTimeout !== undefined ? config.server.keepAliveTimeout * 1000 : SERVER_KEEP_ALIVE_TIMEOUT_MS;
      const onClientError = (error: NodeJS.ErrnoException, socket: Socket): void => {
        const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
        audit.emit({
          type: 'request.rejected',
          outcome: 'failure',
          code: tooLarge ? 'ERR_HEADERS_TOO_LARGE' : 'ERR_BAD_REQUEST',
          reason: `client_error:${error.code ?? 'unknown'}`,
          clientIp: socket.remoteAddress,
        });
        if (!socket.writable || (error.code === 'ECONNRESET' && socket.destroyed)) {
          socket.destroy();
          return;
        }
        const description = ERROR_TABLE[tooLarge ? 'ERR_HEADERS_TOO_LARGE' : 'ERR_BAD_REQUEST'];
        const body = JSON.stringify({
          error: {
            code: tooLarge ? 'ERR_HEADERS_TOO_LARGE' : 'ERR_BAD_REQUEST',
            step: description.step,
            title: description.title,
            message: description.message,
          },
        });
        socket.end(
          `HTTP/1.1 ${description.status} ${description.title}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\nX-Robots-Tag: noindex, nofollow\r\n\r\n${body}`,
        );
      };
      // Attached at start, not on the first request.
      server.on('upgrade', upgrade);
      server.on('clientError', onClientError);
      return () => {
        server.off('upgrade', upgrade);
        server.off('clientError', onClientError);
      };
    },
    async reopenAuditFile() {
      await configured?.file?.reopen();
    },
    async close() {
      sockets.closeAll();
      forwarder.close();
      await connectors?.close();
      await oidc.close();
      await audit.close();
    },
  };
}

function defaultForwarder({ config, rules, audit, logger, tunnels }: ForwarderFactoryContext): Forwarder {
  return tunnels
    ? createTunnelDispatcher({ apps: config.apps, pool: tunnels, rules, audit, logger })
    : createDirectForwarder({ apps: config.apps, rules, audit, logger });
}
