import { CONTINUE, type Step } from '../request/step.ts';
import type { IdentityAssertions } from './identity-assertion.ts';

/**
 * The start of step 7, between the gate and the forwarder: signs the identity assertion for the signed-in user (cached), so the
 * synchronous header rewrite of a request or an upgrade can attach it.
 */
export function identityAssertionStep(assertions: IdentityAssertions): Step {
  return ({ context }) => {
    if (!context.app || !context.identity) return CONTINUE;
    // Nearly every request finds its assertion cached: no promise, no extra turn of the event loop.
    const cached = assertions.cachedAssertionFor(context.identity, context.app);
    if (cached) {
      context.assertion = cached;
      return CONTINUE;
    }
    const { identity, app } = context;
    return assertions.assertionFor(identity, app).then((assertion) => {
      context.assertion = assertion;
      return CONTINUE;
    });
  };
}
