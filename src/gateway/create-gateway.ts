import type { Router } from 'express';
import type { Registry } from 'prom-client';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditSink } from '../audit/events.ts';
import { systemClock, type Clock } from '../clock.ts';
import { parseGatewayConfig, type GatewayConfig } from '../config/parse.ts';
import type { RateLimitSettings } from '../config/rate-limit-schema.ts';
import type { GatewayConfigInput } from '../config/schema.ts';
import { configWarnings } from '../config/config-warnings.ts';
import { ConnectorService } from '../connector-plane/connector-service.ts';
import { createRateLimiter } from '../edge/rate-limiter.ts';
import { SlowClientGuard } from '../edge/slow-clients.ts';
import { createWebSocketCaps, type WebSocketLeaseOptions } from '../edge/websocket-caps-redis.ts';
import type { Forwarder } from '../forwarding/direct-forwarder.ts';
import { IdentityAssertions } from '../forwarding/identity-assertion.ts';
import { gatewayReadiness, type GatewayHealth } from '../health/gateway-readiness.ts';
import { createLogger, type Logger } from '../logging/logger.ts';
import { gatewayInstruments } from '../metrics/gateway-instruments.ts';
import type { RiskProvider } from '../policy/types.ts';
import { createGatewayRisk } from '../risk/gateway-risk.ts';
import { deriveSealKeys } from '../session/seal-keys.ts';
import { SessionManager } from '../session/session-manager.ts';
import { SessionSockets } from '../session/session-sockets.ts';
import { SessionRefresher, signInScopes } from '../session/session-refresh.ts';
import { refreshLeaseSeconds } from '../session/refresh-state.ts';
import { givenSessionStore, openSessionStore } from '../session/open-session-store.ts';
import type { SessionStore } from '../session/session-store.ts';
import { OidcClient, type IdpFetch } from '../signin/oidc-client.ts';
import type { PreauthDeps } from '../signin/signin-deps.ts';
import { SignInLoopDetector } from '../signin/signin-loop.ts';
import { TransactionCookies } from '../signin/transaction-cookies.ts';
import type { Broadcast } from '../store/broadcast.ts';
import type { Store } from '../store/store.ts';
import { attachServer } from './attach-server.ts';
import { openConnectorStore } from './connector-store.ts';
import { defaultForwarder, type ForwarderFactoryContext } from './forwarder-factory.ts';
import { createGatewayAudit } from './gateway-audit.ts';
import { ReloadableRequestPath, type ReloadActor, type ReloadInput, type ReloadResult } from './reload.ts';
import { followTraffic } from './shutdown.ts';
import { createTestingHooks, TESTING_HOOKS, type TestingHooks } from './testing-hooks.ts';

export type { ForwarderFactoryContext } from './forwarder-factory.ts';

/** What `createGateway()` takes besides the configuration: replacements for its defaults (clock, audit sinks, logger, stores, risk provider) and test mode. */
export interface GatewayOptions {
  /** Milliseconds since the epoch; every expiry decision uses it. Default: Date.now. */
  readonly clock?: Clock;
  /** Where audit events go. Default: JSON lines on stdout. */
  readonly audit?: AuditSink | readonly AuditSink[];
  /** pino logger for operational messages. Default: silent. */
  readonly logger?: Logger;
  /** HTTP client for the identity provider (discovery, keys, token endpoint). */
  readonly idpFetch?: IdpFetch;
  /** Revocations, used sign-in states and server-side session data. Default: what `store.url` names (the gateway closes it). */
  readonly sessionStore?: SessionStore;
  /** What to do with requests for hosts that publish no app: 404 (default) or leave them to the host app. */
  readonly unknownHost?: 'reject' | 'next';
  /** The forwarding step (step 7). Default: through the connectors' tunnels when `connectors` is configured, else straight to each app's internal URL. */
  readonly forwarder?: (context: ForwarderFactoryContext) => Forwarder;
  /** Relative `…File` paths in the config are resolved against this folder. */
  readonly baseDir?: string;
  /** Where the connector CA and registry live. Default: the state database store.url names, else the one in connectors.stateDir. */
  readonly connectorStore?: Store;
  /** Carries connector registry and configuration changes to the other instances sharing `connectorStore`. Default: this process only. */
  readonly broadcast?: Broadcast;
  /** Your own user and sign-in risk, combined with the built-in signals (the higher level wins). */
  readonly riskProvider?: RiskProvider;
  /** How often open WebSockets are checked again (session still valid, policy still allowing). Default SOCKET_RECHECK_INTERVAL_MS (30 s). */
  readonly socketRecheckIntervalMs?: number;
  /** With Redis: the timing of the leases that count WebSockets over every instance. Defaults in limits.ts (lease 30 s, renewed every 10 s). */
  readonly websocketLeases?: WebSocketLeaseOptions;
  /**
   * Test mode, for `gatehouse/testing`: lets your tests mint sessions sealed
   * with this gateway's real keys. Never set it in production: the gateway
   * prints a warning at start when it is on.
   */
  readonly testing?: boolean;
}

/** What `createGateway()` returns: the Express handler to mount, `attach()` for the server that carries it, and its life cycle (`ready()`, `close()`). */
export interface Gateway extends GatewayHealth {
  readonly [TESTING_HOOKS]?: TestingHooks;
  /** Mount on an Express app (at its root): `app.use(gateway.handler)`. */
  readonly handler: Router;
  /** The configuration new requests are served with (the last one a reload applied). */
  readonly config: GatewayConfig;
  readonly audit: AuditLog;
  /** The connector plane, when `connectors` is configured: call `listen()` to open its listener. */
  readonly connectors: ConnectorService | undefined;
  /** This gateway's Prometheus metrics (its own registry; `scrapeMetrics(metrics, 'gatehouse_')` adds Node's process metrics). */
  readonly metrics: Registry;
  /** Resolves once the identity provider's metadata is discovered; rejects with ERR_IDP_UNAVAILABLE. */
  ready(): Promise<void>;
  /**
   * Sets timeouts, the WebSocket upgrade listener, a clientError handler and the slow-client guards (`limits.connections`
   * per peer address, `limits.body` on every request body) on the server that carries the handler, and follows its
   * requests and WebSockets for `shutdown(server, gateway)`. Returns the function that removes the listeners again.
   */
  attach(server: HttpServer | HttpsServer): () => void;
  /**
   * Applies a new configuration to new requests while those in flight finish on the old one, or refuses it with every
   * problem (it does not validate, or changes a key that needs a restart) and keeps the old one. One reload at a time.
   */
  reload(input: ReloadInput, by?: ReloadActor): Promise<ReloadResult>;
  /** Reopens the audit file (after log rotation; `gatehouse serve` does it on SIGHUP). */
  reopenAuditFile(): Promise<void>;
  /** Readiness says "not ready" from now on, so that load balancers stop sending; `shutdown()` calls it before draining. */
  drain(): void;
  /**
   * Releases what the gateway holds: closes its WebSockets, drains the connectors' tunnels (GOAWAY) and closes
   * the connector listener, delivers the audit events still queued (a bounded wait), closes the store. It does
   * not touch your server (the gateway does not own it) and cuts WebSockets without a close frame: to stop
   * your server gracefully, call `shutdown(server, gateway)` instead, which drains the server and then calls this.
   */
  close(): Promise<void>;
}

/**
 * Builds the whole cloud side from one configuration, validated here once: the parts each step needs (audit log,
 * sessions, access control, sign-in, connectors, forwarder), then the request path over them.
 */
export function createGateway(input: GatewayConfigInput | GatewayConfig, options: GatewayOptions = {}): Gateway {
  const config = parseGatewayConfig(input, options.baseDir !== undefined ? { baseDir: options.baseDir } : {});
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger();
  for (const warning of configWarnings(config)) logger.warn({ warning }, 'configuration warning');
  const measured = gatewayInstruments(() => ({ connectors, apps: requestPath.config.apps, audit: configured }));
  // Opened first: with Redis, its connection and broadcast are the ones every other stateful part shares. A store the caller passed stays the caller's to close.
  const opened = options.sessionStore
    ? givenSessionStore(options.sessionStore)
    : openSessionStore(config.store.url, {
        onRevocationOverflow: (refusedBefore) =>
          audit.emit({ type: 'session.revocation_overflow', outcome: 'info', reason: 'revocation_list_full', details: { refusedBefore } }),
        onSideDataFull: (stats) => logger.warn({ stats }, 'session store full: sign-ins that need server-side session data are refused'),
        onStoreError: measured.onStoreError((error) =>
          logger.warn({ err: error }, 'session store: Redis unreachable, revocations kept locally and written when it answers'),
        ),
      });
  const { audit, recent, configured } = createGatewayAudit(config, options.audit, clock, logger, opened.redis);
  const judged = createGatewayRisk({ config, custom: options.riskProvider, redis: opened.redis, clock, logger, audit });
  const { risk, builtIn: builtInRisk } = judged;
  if (opened.volatile) {
    logger.warn(
      { store: config.store.url },
      'sessions are kept in memory: sign-outs and server-side session data do not survive a restart; set store.url to "sqlite:<path>" (or connectors.stateDir) to keep them',
    );
  }
  const store = measured.store(opened.store);
  const keys = deriveSealKeys(config.session.secrets);
  const sessions = new SessionManager({
    cookieName: config.session.cookieName,
    keys,
    store,
    clock,
    ...measured.sessions,
    defaults: {
      maxLifetime: config.session.maxLifetime,
      idleTimeout: config.session.idleTimeout,
      persistent: config.session.persistent,
    },
  });
  const sockets = new SessionSockets(clock, options.socketRecheckIntervalMs !== undefined ? { recheckIntervalMs: options.socketRecheckIntervalMs } : {});
  // A session revoked through any instance closes its WebSockets here too.
  opened.onRevoked((sessionId) => sockets.closeSession(sessionId));
  // Options of the parts each reload rebuilds, but what they read from the configuration (see reload.ts).
  const accessOptions = { risk, audit, clock, ...measured.access };
  const oidc = new OidcClient({ settings: config.identityProvider, clock, fetch: options.idpFetch });
  if (config.session.refresh) {
    const grant = (token: string, sub: string) => oidc.refresh(token, sub);
    const leaseSeconds = refreshLeaseSeconds(config.identityProvider);
    sessions.attachRefresher(new SessionRefresher({ sessions, store, keys, clock, sockets, audit, ...measured.sessions, grant, leaseSeconds }));
  }
  const signIn: Omit<PreauthDeps, 'access'> = {
    oidc,
    sessions,
    store,
    transactions: new TransactionCookies(keys.transaction, clock),
    loops: new SignInLoopDetector(clock, keys.loop),
    audit,
    clock,
    scopes: signInScopes(config.identityProvider.scopes, config.session.refresh),
    clientId: config.identityProvider.clientId,
    sockets,
    ...measured.signIn,
    ...(builtInRisk
      ? {
          signIns: {
            failure: (event) => void builtInRisk.recordSignInFailure(event),
            success: (event) => void builtInRisk.recordSignInSuccess(event),
          },
        }
      : {}),
  };
  const sharedConnectorStore = options.connectorStore ? undefined : openConnectorStore(config, opened.redis);
  const rateLimiter = createRateLimiter({ clock, audit, logger, registry: measured.registry, redis: opened.redis });
  const slowClients = new SlowClientGuard({ audit, registry: measured.registry, limits: () => requestPath.config.limits });
  const connectorStore = options.connectorStore ?? sharedConnectorStore;
  const connectors: ConnectorService | undefined = config.connectors
    ? new ConnectorService({
        config: config.connectors,
        apps: config.apps,
        clock,
        audit,
        logger,
        clockToleranceSeconds: config.identityProvider.clockToleranceSeconds,
        idpKeys: oidc.keys,
        idpFetch: oidc.fetch,
        idpClient: {
          clientId: config.identityProvider.clientId,
          clientSecret: config.identityProvider.clientSecret,
          introspectionEndpoint: async () => (await oidc.configuration()).serverMetadata().introspection_endpoint,
          timeoutMs: config.identityProvider.timeoutSeconds * 1000,
        },
        recentEvents: recent,
        ...(connectorStore ? { store: connectorStore } : {}),
        broadcast: options.broadcast ?? opened.broadcast,
        rateLimits: { limiter: rateLimiter, settings: (): RateLimitSettings => requestPath.config.limits.rate },
        adminView: { config: (): GatewayConfig => requestPath.config, readiness: () => readiness(), tunnels: () => connectors?.tunnels },
      })
    : undefined;
  const assertions = new IdentityAssertions({
    issuer: config.identityAssertion.issuer,
    lifetime: config.identityAssertion.lifetime,
    rotation: config.identityAssertion.rotation,
    keyPem: config.identityAssertion.key,
    store: async () => (connectors ? connectors.store() : connectorStore),
    clock,
  });
  let draining = false;
  const readiness = gatewayReadiness({
    oidc,
    opened,
    config,
    storeGiven: options.sessionStore !== undefined,
    connectors,
    apps: () => requestPath.config.apps,
    draining: () => draining,
  });
  const requestPath = new ReloadableRequestPath({
    config,
    baseDir: options.baseDir,
    access: accessOptions,
    requestPath: { unknownHost: options.unknownHost ?? 'reject', audit, logger, sessions, sockets, assertions, metrics: measured.requests, health: readiness },
    rateLimiter,
    websockets: createWebSocketCaps({ redis: opened.redis, logger, registry: measured.registry, ...options.websocketLeases }),
    signIn,
    tunnels: connectors?.tunnels,
    forwarder: options.forwarder ?? measured.timed(defaultForwarder),
    connectors,
  });
  const testing = options.testing === true ? createTestingHooks(config, sessions, clock, logger) : undefined;

  return {
    ...(testing ? { [TESTING_HOOKS]: testing } : {}),
    handler: requestPath.handler,
    get config() {
      return requestPath.config;
    },
    audit,
    connectors,
    metrics: measured.registry,
    reload: (input, by) => requestPath.reload(input, by),
    readiness,
    drain() {
      draining = true;
    },
    async ready() {
      // The store first, then what is read from it: a store that cannot be reached, or holds keys this version cannot read, is fatal,
      // and must not be hidden behind an identity provider still starting (whose discovery runs meanwhile, and is reported last).
      await opened.ready();
      const discovery = oidc.configuration();
      discovery.catch(() => undefined);
      await Promise.all([connectors?.init(), assertions.ready()]);
      await discovery;
    },
    attach: (server) => {
      const undo = [attachServer(server, { config, audit, upgrade: requestPath.upgrade, slowClients }), followTraffic(server)];
      return () => undo.forEach((each) => each());
    },
    async reopenAuditFile() {
      await configured?.file?.reopen();
    },
    async close() {
      sockets.closeAll();
      requestPath.close();
      rateLimiter.close();
      slowClients.close();
      await connectors?.close();
      await sharedConnectorStore?.close();
      await oidc.close();
      await audit.close();
      judged.close();
      // Last: with Redis, it closes the connection the other parts used.
      await opened.close();
    },
  };
}
