import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { AuditLog } from '../audit/audit-log.ts';
import { auditContext } from '../request/audit-context.ts';
import { getRequestContext, type RequestContext } from '../request/context.ts';
import type { Step, StepInput, StepOutcome } from '../request/step.ts';
import { wantsRedirect } from '../request/wants-redirect.ts';
import { appendSetCookie } from '../session/cookies.ts';
import { redirectNavigation } from '../signin/redirect.ts';
import { sendError } from '../errors/render-user.ts';

/**
 * Mounts a step of the request path in Express. A refusal that signing in can fix sends a browser navigation to
 * sign in and tells anything else where that is (JSON); any other refusal is an error page or JSON, as the client
 * prefers. Requests the gateway has not taken on (no request context) pass untouched.
 */
export function expressStep(step: Step, audit?: AuditLog): RequestHandler {
  return (req, res, next) => {
    const context = getRequestContext(req);
    if (!context) {
      next();
      return;
    }
    const outcome = step(inputOf(req, context, req.originalUrl));
    // Returned, so that Express 5 turns a rejected step into next(error).
    if (outcome instanceof Promise) return outcome.then((settled) => answer(settled, req, res, next, audit));
    answer(outcome, req, res, next, audit);
    return undefined;
  };
}

/** One input per request for all its steps (it only names the request), kept on the request: not one object per step. */
const INPUT = Symbol('gatehouse.stepInput');

type WithInput = IncomingMessage & { [INPUT]?: StepInput };

function inputOf(req: IncomingMessage, context: RequestContext, target: string): StepInput {
  const known = (req as WithInput)[INPUT];
  if (known !== undefined && known.context === context && known.target === target) return known;
  const input: StepInput = { req, context, target };
  (req as WithInput)[INPUT] = input;
  return input;
}

function answer(outcome: StepOutcome, req: IncomingMessage, res: ServerResponse, next: () => void, audit: AuditLog | undefined): void {
  if (outcome.setCookies) for (const line of outcome.setCookies) appendSetCookie(res, line);
  if (outcome.kind === 'continue') {
    next();
    return;
  }
  const { error, signInUrl, details } = outcome;
  if (outcome.retryAfterSeconds !== undefined && (error.status === 429 || error.status === 503))
    res.setHeader('Retry-After', String(outcome.retryAfterSeconds));
  if (outcome.rejectsRequest) audit?.emit({ type: 'request.rejected', outcome: 'failure', code: error.code, reason: error.reason, ...auditContext(req) });
  if (signInUrl === undefined) {
    sendError(req, res, error, { details });
    return;
  }
  if (wantsRedirect(req)) {
    redirectNavigation(res, signInUrl);
    return;
  }
  // Not a navigation: API clients, XHR and form posts get JSON they can act on.
  sendError(req, res, error, { signInUrl, details, format: 'json' });
}
