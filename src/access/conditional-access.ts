import type { AuditLog } from '../audit/audit-log.ts';
import { GatehouseError } from '../errors/index.ts';
import { auditContext } from '../request/audit-context.ts';
import { CONTINUE, type Step } from '../request/step.ts';
import { signInUrl } from '../signin/signin-url.ts';
import type { AccessControl } from './access-control.ts';
import { explain } from './explanation.ts';
import { requestPath } from './facts.ts';

/**
 * Step 6, conditional access on every request and WebSocket upgrade, for what can change between requests: the client
 * address, risk, the age of the sign-in, the path. Denied: what failed and what the user can do, audited. Fixable by
 * signing in again (MFA, sign-in frequency): the step-up sign-in.
 */
export function conditionalAccessStep(access: AccessControl, audit: AuditLog): Step {
  return async ({ req, context, target }) => {
    const { app, identity } = context;
    if (!app || !identity || !access.hasPolicies(app)) return CONTINUE;
    const decision = await access.decide(req, app, identity, requestPath(target), context.clientIp, 'request');
    if (!decision || decision.effect === 'allow') return CONTINUE;
    const { details } = explain(decision);
    if (decision.effect === 'step-up' && decision.stepUp) {
      const stepUp = `${signInUrl(app, target)}&stepup=${decision.stepUp.reason}`;
      return { kind: 'error', error: new GatehouseError('ERR_STEP_UP_REQUIRED', decision.stepUp.reason), signInUrl: stepUp, details };
    }
    audit.emit({
      type: 'access.denied',
      outcome: 'failure',
      code: 'ERR_POLICY_DENIED',
      reason: decision.failed.map((outcome) => `${outcome.policy}:${outcome.reason}`).join(' '),
      user: { sub: identity.sub, name: identity.name, email: identity.email },
      ...auditContext(req),
    });
    return { kind: 'error', error: new GatehouseError('ERR_POLICY_DENIED', 'policy'), details };
  };
}
