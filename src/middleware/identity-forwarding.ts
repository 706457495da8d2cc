import type { RequestHandler } from 'express';
import type { IdentityAssertions } from '../forwarding/identity-assertion.ts';
import { identityAssertionStep } from '../forwarding/identity-assertion-step.ts';
import { expressStep } from './express-step.ts';

/** The identity assertion, mounted between the gate and the forwarder. */
export function identityForwarding(assertions: IdentityAssertions): RequestHandler {
  return expressStep(identityAssertionStep(assertions));
}
