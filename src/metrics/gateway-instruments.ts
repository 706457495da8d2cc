import type { Registry } from 'prom-client';
import type { AccessControlOptions } from '../access/access-control.ts';
import type { AuditSinks } from '../audit/create-audit-sinks.ts';
import type { AppConfig } from '../config/parse.ts';
import type { ConnectorService } from '../connector-plane/connector-service.ts';
import type { Forwarder } from '../forwarding/direct-forwarder.ts';
import type { SessionManagerOptions } from '../session/session-manager.ts';
import type { SessionStore } from '../session/session-store.ts';
import type { PreauthDeps } from '../signin/signin-deps.ts';
import { createGatewayMetrics, type GatewayMetrics } from './gateway-metrics.ts';
import { observeAudit, observeConnectorPlane } from './plane-metrics.ts';
import { observeStreamShares } from './stream-metrics.ts';
import { createMetricsRegistry } from './registry.ts';
import { policyDecisionMetrics, sessionMetrics, signInMetrics } from './step-metrics.ts';
import { BACKGROUND_OPERATION, instrumentSessionStore } from './store-metrics.ts';

/** What the scrape-time metrics read, once the gateway has built it (read lazily: the gateway builds it after its instruments). */
export interface GatewayState {
  readonly connectors: ConnectorService | undefined;
  readonly apps: readonly AppConfig[];
  readonly audit: Pick<AuditSinks, 'webhook' | 'file'> | undefined;
}

/** The default forwarder factory's shape: the forwarding context, and who times the tunnel part. */
type ForwarderFactory<Context> = (context: Context, onTunnelResponseHead?: (appId: string, seconds: number) => void) => Forwarder;

/**
 * The gateway's metrics as the options each part takes, so that `createGateway()` wires them in a word per part: the
 * session store timed, sessions, policy decisions and sign-ins counted, the tunnel part timed, and the connector plane
 * and audit sinks read at scrape time.
 */
export interface GatewayInstruments {
  /** `gateway.metrics`. */
  readonly registry: Registry;
  /** For the request path: every request and upgrade counted and timed. */
  readonly requests: GatewayMetrics;
  readonly sessions: Pick<SessionManagerOptions, 'observer'>;
  readonly access: Pick<AccessControlOptions, 'onDecision'>;
  readonly signIn: Pick<PreauthDeps, 'onCallback'>;
  store(store: SessionStore): SessionStore;
  /** Counts a store failure reported in the background (then calls `report`). */
  onStoreError(report: (error: unknown) => void): (error: unknown) => void;
  /** The default forwarder, timing the tunnel part of each request. */
  timed<Context>(factory: ForwarderFactory<Context>): (context: Context) => Forwarder;
}

export function gatewayInstruments(state: () => GatewayState): GatewayInstruments {
  const registry = createMetricsRegistry();
  const metrics = createGatewayMetrics(registry);
  observeConnectorPlane(registry, {
    tunnels: () => state().connectors?.tunnels,
    connectors: () => {
      const { connectors } = state();
      return connectors?.initialized ? connectors.registry.all() : undefined;
    },
    groups: () => [...new Set(state().apps.map((app) => app.connectorGroup))],
  });
  observeStreamShares(registry, () => state().connectors?.tunnels);
  observeAudit(registry, () => state().audit);
  const onTunnelResponseHead = (app: string, seconds: number): void => metrics.tunnelResponseSeconds.observe(app, seconds);
  return {
    registry,
    requests: metrics,
    sessions: { observer: sessionMetrics(metrics) },
    access: { onDecision: policyDecisionMetrics(metrics) },
    signIn: { onCallback: signInMetrics(metrics) },
    store: (store) => instrumentSessionStore(store, metrics),
    onStoreError: (report) => (error) => {
      metrics.storeErrors.inc(BACKGROUND_OPERATION);
      report(error);
    },
    timed: (factory) => (context) => factory(context, onTunnelResponseHead),
  };
}
