import type { IncomingMessage } from 'node:http';
import type { AuditLog } from '../audit/audit-log.ts';
import { nowSeconds, type Clock } from '../clock.ts';
import type { AppConfig } from '../config/parse.ts';
import { GatehouseConfigError } from '../errors/index.ts';
import { createPolicyEngine, type PolicyEngine } from '../policy/engine.ts';
import type { AccessDecision, MfaSettings, RiskLevel, RiskProvider } from '../policy/types.ts';
import { accessFacts, clientAppOf } from './facts.ts';
import { auditContext } from '../request/audit-context.ts';
import type { Identity } from '../request/context.ts';

export interface AccessControlOptions {
  readonly apps: readonly AppConfig[];
  readonly namedLocations: Readonly<Record<string, readonly string[]>>;
  readonly mfa: MfaSettings;
  readonly risk: RiskProvider | undefined;
  readonly audit: AuditLog;
  readonly clock: Clock;
  /** Told of every decision (the gateway's metrics); it must be cheap: it runs on every request to an app with policies. */
  readonly onDecision?: (app: AppConfig, decision: AccessDecision) => void;
}

const NO_RISK = { signInRisk: 'none', userRisk: 'none' } as const satisfies { signInRisk: RiskLevel; userRisk: RiskLevel };

/**
 * Step 6, conditional access, as one object the sign-in callback and the
 * per-request middleware share: one policy engine per app (built and
 * validated once), the risk provider, and the audit of every decision.
 */
export class AccessControl {
  readonly mfa: MfaSettings;
  readonly #engines = new Map<string, PolicyEngine>();
  readonly #options: AccessControlOptions;

  constructor(options: AccessControlOptions) {
    this.#options = options;
    this.mfa = options.mfa;
    options.apps.forEach((app, index) => {
      if (app.policies.length === 0) return;
      try {
        this.#engines.set(app.id, createPolicyEngine({ policies: app.policies, namedLocations: options.namedLocations, mfa: options.mfa }));
      } catch (error) {
        // Name the app, so the message points at the key in the configuration file.
        if (error instanceof GatehouseConfigError) throw new GatehouseConfigError(error.issues.map((issue) => `apps[${index}].${issue}`));
        throw error;
      }
    });
  }

  hasPolicies(app: AppConfig): boolean {
    return this.#engines.has(app.id);
  }

  /**
   * Evaluates the app's policies for this user and request, and audits what
   * is worth auditing. `websocket`: the periodic re-check of an open
   * WebSocket, audited only when it refuses (its report-only findings were
   * audited at the upgrade, and would repeat every interval).
   */
  async decide(
    req: IncomingMessage,
    app: AppConfig,
    identity: Identity,
    path: string,
    clientIp: string,
    at: 'sign-in' | 'request' | 'websocket',
  ): Promise<AccessDecision | undefined> {
    const engine = this.#engines.get(app.id);
    if (!engine) return undefined;
    const risk = this.#options.risk ? await this.#options.risk({ sub: identity.sub, clientIp, userAgent: req.headers['user-agent'], app: app.id }) : NO_RISK;
    // A caller that proved itself with an access token is an API client, whatever its User-Agent says.
    const clientApp = identity.via === 'bearer' ? 'api' : clientAppOf(req);
    const decision = engine.evaluate(accessFacts({ identity, clientIp, clientApp, path, risk, now: nowSeconds(this.#options.clock) }));
    this.#options.onDecision?.(app, decision);
    const reportOnlyFailures = decision.outcomes.filter((outcome) => outcome.state === 'report-only' && outcome.applied && !outcome.satisfied);
    // Every sign-in decision is audited; per request, only what was refused or would have been.
    if (at === 'sign-in' || decision.effect !== 'allow' || (at === 'request' && reportOnlyFailures.length > 0)) {
      this.#options.audit.emit({
        type: 'policy.decision',
        outcome: decision.effect === 'allow' ? 'success' : 'failure',
        reason: decision.effect === 'allow' ? 'allowed' : decision.failed.map((outcome) => `${outcome.policy}:${outcome.reason}`).join(' '),
        user: { sub: identity.sub, name: identity.name, email: identity.email },
        details: {
          at,
          effect: decision.effect,
          path,
          signInRisk: risk.signInRisk,
          userRisk: risk.userRisk,
          policies: decision.outcomes
            .filter((outcome) => outcome.applied)
            .map((outcome) => `${outcome.policy}[${outcome.state}]=${outcome.satisfied ? 'satisfied' : outcome.reason}(${outcome.matched.join(',')})`)
            .join(' '),
          reportOnlyFailures: reportOnlyFailures.map((outcome) => `${outcome.policy}:${outcome.reason}`).join(' ') || null,
        },
        ...auditContext(req),
      });
    }
    return decision;
  }
}
