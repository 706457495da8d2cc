import type { IncomingMessage } from 'node:http';
import type { GatehouseError } from '../errors/index.ts';
import type { RequestContext } from './context.ts';

/** What each step of the request path is given, whether the request came as plain HTTP or as a WebSocket upgrade. */
export interface StepInput {
  readonly req: IncomingMessage;
  readonly context: RequestContext;
  /** The request target as the client sent it (Express rewrites `req.url` under a mount path). */
  readonly target: string;
}

/** The step answered with a refusal; the transport renders it (an error page or JSON, or a raw HTTP/1.1 answer on the socket). */
export interface StepRefusal {
  readonly kind: 'error';
  readonly error: GatehouseError;
  /**
   * A refusal of the request itself, before anyone is known (bad target, unknown host, reserved path): the transport
   * audits it as `request.rejected`. Refusals of a user are audited by their step, in the same words on every transport.
   */
  readonly rejectsRequest?: boolean;
  /** Fixable by signing in: a navigation is sent there, anything else is told where it is. */
  readonly signInUrl?: string;
  /** Fixed sentences saying what failed and what the user can do. */
  readonly details?: readonly string[];
  /** Cookies to set where the transport can (a refused upgrade cannot). */
  readonly setCookies?: readonly string[];
  /** Sent as `Retry-After` with a 429 or 503: when trying again may succeed. */
  readonly retryAfterSeconds?: number;
}

export type StepOutcome = { readonly kind: 'continue'; readonly setCookies?: readonly string[] } | StepRefusal;

/**
 * One step of the request path: a function of the request and its context. Steps that can decide without waiting
 * answer synchronously, so the common path costs no extra turn of the event loop.
 */
export type Step = (input: StepInput) => StepOutcome | Promise<StepOutcome>;

export const CONTINUE: StepOutcome = Object.freeze({ kind: 'continue' });

/** Runs steps in order until one refuses; the first refusal, or CONTINUE when every step let the request on. */
export async function runSteps(steps: readonly Step[], input: StepInput): Promise<StepOutcome> {
  for (const step of steps) {
    const outcome = await step(input);
    if (outcome.kind !== 'continue') return outcome;
  }
  return CONTINUE;
}
