import type { RequestHandler } from 'express';
import { getRequestContext } from './context.ts';
import type { IdentityAssertions } from './identity-assertion.ts';

/**
 * Between the gate and the forwarder: signs the identity assertion for the
 * signed-in user (cached), so the synchronous header rewrite can attach it.
 */
export function identityForwarding(assertions: IdentityAssertions): RequestHandler {
  return async (req, _res, next) => {
    const context = getRequestContext(req);
    if (context?.app && context.identity) {
      context.assertion = await assertions.assertionFor(context.identity, context.app);
    }
    next();
  };
}
