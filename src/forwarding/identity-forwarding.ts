import type { RequestHandler } from 'express';
import { getRequestContext } from '../request/context.ts';
import type { IdentityAssertions } from './identity-assertion.ts';

/**
 * Between the gate and the forwarder: signs the identity assertion for the
 * signed-in user (cached), so the synchronous header rewrite can attach it.
 */
export function identityForwarding(assertions: IdentityAssertions): RequestHandler {
  return (req, _res, next) => {
    const context = getRequestContext(req);
    if (!context?.app || !context.identity) {
      next();
      return;
    }
    // Nearly every request finds its assertion cached: no promise, no extra turn of the event loop.
    const cached = assertions.cachedAssertionFor(context.identity, context.app);
    if (cached) {
      context.assertion = cached;
      next();
      return;
    }
    // Returned, so that Express 5 turns a failure to sign into next(error).
    return assertions.assertionFor(context.identity, context.app).then((assertion) => {
      context.assertion = assertion;
      next();
    });
  };
}
