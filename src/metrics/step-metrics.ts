import type { AppConfig } from '../config/parse.ts';
import type { AccessDecision } from '../policy/types.ts';
import type { SessionObserver } from '../session/session-manager.ts';
import type { SignInOutcome } from '../signin/signin-deps.ts';
import type { GatewayMetrics } from './gateway-metrics.ts';

const NONE = 'none';

/**
 * A policy reason without its configured detail: `grant.claims:department` counts as `grant.claims`,
 * `condition.location:corporate` as `condition.location`, so the label stays within the engine's own codes.
 */
export function reasonCode(reason: string): string {
  const colon = reason.indexOf(':');
  return colon === -1 ? reason : reason.slice(0, colon);
}

/** Conditional access decisions by app, result and decisive reason; allowing costs no string work. */
export function policyDecisionMetrics(metrics: GatewayMetrics): (app: AppConfig, decision: AccessDecision) => void {
  return (app, decision) => {
    const first = decision.failed[0];
    metrics.policyDecisions.inc(app.id, decision.effect, first ? reasonCode(first.reason) : NONE);
  };
}

/** Sign-in callbacks by app, outcome and error code. */
export function signInMetrics(metrics: GatewayMetrics): (appId: string, outcome: SignInOutcome, code: string | undefined) => void {
  return (appId, outcome, code) => metrics.signIns.inc(appId, outcome, code ?? NONE);
}

/** Sessions issued and revoked, by app. */
export function sessionMetrics(metrics: GatewayMetrics): SessionObserver {
  return {
    issued: (appId) => metrics.sessionsIssued.inc(appId),
    revoked: (appId) => metrics.sessionsRevoked.inc(appId),
    refreshed: (appId, outcome) => metrics.sessionRefreshes.inc(appId, outcome),
  };
}
