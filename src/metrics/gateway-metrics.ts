import type { Registry } from 'prom-client';
import { CounterCells } from './counter-cells.ts';
import { HistogramCells } from './histogram-cells.ts';

/** Seconds: from a cached-session page (a millisecond) to a slow backend or a sign-in round trip. */
export const LATENCY_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Seconds: a store call is a map lookup in memory, a local SQLite statement, or a Redis round trip. */
export const STORE_BUCKETS: readonly number[] = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** The label value for a request no app was resolved for (unknown host, robots.txt before resolution). */
export const NO_APP = 'none';

/**
 * The gateway's own metrics, defined once on its registry (`gateway.metrics`). Counters on the request path are
 * CounterCells and HistogramCells (no label object or string built per request). The state that
 * exists anyway (tunnels, connectors, audit queues) is read at scrape time, elsewhere (plane-metrics.ts).
 */
export interface GatewayMetrics {
  readonly registry: Registry;
  /** app, step, status_class */
  readonly requests: CounterCells;
  /** app */
  readonly requestSeconds: HistogramCells;
  /** From the request dispatched into a tunnel stream to the app's response headers. */
  readonly tunnelResponseSeconds: HistogramCells;
  /** app, outcome */
  readonly websocketUpgrades: CounterCells;
  /** app, limit: upgrades refused by the caps on WebSockets per session and per client address */
  readonly websocketsRefused: CounterCells;
  /** app: WebSockets closed by the idle timeout */
  readonly websocketsIdleClosed: CounterCells;
  /** app, outcome, code */
  readonly signIns: CounterCells;
  /** app, result, reason */
  readonly policyDecisions: CounterCells;
  /** app */
  readonly sessionsIssued: CounterCells;
  /** app */
  readonly sessionsRevoked: CounterCells;
  readonly sessionRefreshes: CounterCells;
  /** operation */
  readonly storeSeconds: HistogramCells;
  /** operation */
  readonly storeErrors: CounterCells;
}

export function createGatewayMetrics(registry: Registry): GatewayMetrics {
  return {
    registry,
    requests: new CounterCells(registry, {
      name: 'gatehouse_requests_total',
      help: 'HTTP requests answered, by app, status class and the step of the request path that answered.',
      labelNames: ['app', 'step', 'status_class'],
    }),
    requestSeconds: new HistogramCells(registry, {
      name: 'gatehouse_request_duration_seconds',
      help: 'Time from the request reaching the gateway to the last byte of its answer, by app.',
      labelName: 'app',
      buckets: LATENCY_BUCKETS,
    }),
    tunnelResponseSeconds: new HistogramCells(registry, {
      name: 'gatehouse_tunnel_response_seconds',
      help: 'Time from a request dispatched into a connector tunnel stream to the response headers coming back, by app.',
      labelName: 'app',
      buckets: LATENCY_BUCKETS,
    }),
    websocketUpgrades: new CounterCells(registry, {
      name: 'gatehouse_websocket_upgrades_total',
      help: 'WebSocket upgrades, by app and outcome (forwarded to the app, or refused by a step).',
      labelNames: ['app', 'outcome'],
    }),
    websocketsRefused: new CounterCells(registry, {
      name: 'gatehouse_websockets_refused_total',
      help: 'WebSocket upgrades refused with 429 because the session or the client address had as many open as it may, by app and limit.',
      labelNames: ['app', 'limit'],
    }),
    websocketsIdleClosed: new CounterCells(registry, {
      name: 'gatehouse_websockets_idle_closed_total',
      help: 'WebSockets closed because no byte went either way for the idle timeout, by app.',
      labelNames: ['app'],
    }),
    signIns: new CounterCells(registry, {
      name: 'gatehouse_signins_total',
      help: 'Sign-in callbacks, by app, outcome (success, failure, denied) and error code (none on success).',
      labelNames: ['app', 'outcome', 'code'],
    }),
    policyDecisions: new CounterCells(registry, {
      name: 'gatehouse_policy_decisions_total',
      help: 'Conditional access decisions, by app, result (allow, deny, step-up) and the decisive reason code.',
      labelNames: ['app', 'result', 'reason'],
    }),
    sessionsIssued: new CounterCells(registry, {
      name: 'gatehouse_sessions_issued_total',
      help: 'Session cookies issued at sign-in, by app.',
      labelNames: ['app'],
    }),
    sessionsRevoked: new CounterCells(registry, {
      name: 'gatehouse_sessions_revoked_total',
      help: 'Sessions revoked (logout), by app.',
      labelNames: ['app'],
    }),
    sessionRefreshes: new CounterCells(registry, {
      name: 'gatehouse_session_refresh_total',
      help: 'Refresh attempts at the identity provider (session.refresh), by app and outcome (refreshed, refused, unavailable, unsaved).',
      labelNames: ['app', 'outcome'],
    }),
    storeSeconds: new HistogramCells(registry, {
      name: 'gatehouse_store_operation_duration_seconds',
      help: 'Session store operations (revocation check, revoke, sign-in state, side data), by operation.',
      labelName: 'operation',
      buckets: STORE_BUCKETS,
    }),
    storeErrors: new CounterCells(registry, {
      name: 'gatehouse_store_errors_total',
      help: 'Session store operations that failed, by operation (background: a Redis write retried later).',
      labelNames: ['operation'],
    }),
  };
}
