/**
 * The last step of a WebSocket upgrade, once everything else let it on: the
 * caps on WebSockets per session and per client address, and the idle
 * timeout of the socket that will be forwarded. A refusal is a 429 with
 * Retry-After (the upgrade handler audits it as a refused upgrade).
 */
import type { GatewayConfig } from '../config/parse.ts';
import { GatehouseError } from '../errors/index.ts';
import { WEBSOCKET_CAP_RETRY_AFTER_SECONDS } from '../limits.ts';
import type { GatewayMetrics } from '../metrics/gateway-metrics.ts';
import { CONTINUE, type Step, type StepOutcome } from '../request/step.ts';
import type { WebSocketCapReason, WebSocketCaps, WebSocketCapSettings } from './websocket-caps.ts';
import { closeWhenIdle } from './websocket-idle.ts';

export interface WebSocketLimitSettings extends WebSocketCapSettings {
  /** Seconds without a byte either way before a WebSocket is closed; an app's own `limits.websocketIdleTimeout` wins. */
  readonly idleTimeout: number;
}

export interface WebSocketLimitObserver {
  /** An upgrade refused by a cap (metrics). */
  readonly onRefused?: (appId: string, reason: WebSocketCapReason) => void;
  /** A WebSocket closed for being idle (metrics). */
  readonly onIdleClosed?: (appId: string) => void;
}

/** The step, over the counts every generation of the request path shares and the settings of this one. */
export function websocketLimitsStep(caps: WebSocketCaps, settings: WebSocketLimitSettings, observer: WebSocketLimitObserver = {}): Step {
  return ({ req, context }) => {
    const { app } = context;
    if (!app) return CONTINUE;
    const decide = (refused: WebSocketCapReason | undefined): StepOutcome => {
      if (refused) {
        observer.onRefused?.(app.id, refused);
        return { kind: 'error', error: new GatehouseError('ERR_TOO_MANY_WEBSOCKETS', refused), retryAfterSeconds: WEBSOCKET_CAP_RETRY_AFTER_SECONDS };
      }
      const idleSeconds = app.limits.websocketIdleTimeout ?? settings.idleTimeout;
      closeWhenIdle(req.socket, idleSeconds * 1000, () => observer.onIdleClosed?.(app.id));
      return CONTINUE;
    };
    // Only the shared (Redis) count answers later; the local one decides without a turn of the event loop.
    const refused = caps.admit(req.socket, context.identity?.sessionId, context.clientIp, settings);
    return refused instanceof Promise ? refused.then(decide) : decide(refused);
  };
}

/** The step as the request path mounts it: this configuration's settings, counted in the gateway's metrics. */
export function websocketLimits(config: GatewayConfig, caps: WebSocketCaps, metrics: GatewayMetrics | undefined): Step {
  const { websocketsPerSession, websocketsPerIp, websocketIdleTimeout } = config.limits.streams;
  const settings: WebSocketLimitSettings = { perSession: websocketsPerSession, perIp: websocketsPerIp, idleTimeout: websocketIdleTimeout };
  return websocketLimitsStep(
    caps,
    settings,
    metrics ? { onRefused: (app, limit) => metrics.websocketsRefused.inc(app, limit), onIdleClosed: (app) => metrics.websocketsIdleClosed.inc(app) } : {},
  );
}
