import type { RequestHandler } from 'express';
import { sessionGateStep, type SessionGateOptions } from '../session/session-gate.ts';
import { expressStep } from './express-step.ts';

export type { SessionGateOptions } from '../session/session-gate.ts';

/**
 * The session gate, mounted: the signed-in user on the request, or no session: browsers navigating are sent to
 * sign in, everything else gets 401 with JSON.
 */
export function sessionGate(options: SessionGateOptions): RequestHandler {
  return expressStep(sessionGateStep(options), options.audit);
}
