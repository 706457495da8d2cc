import { Router, type RequestHandler } from 'express';
import { GatehouseError } from '../errors/index.ts';
import { getRequestContext } from '../request/context.ts';
import { sendError } from '../errors/render-user.ts';
import { logout, signedOut } from '../signin/logout.ts';
import { backchannelLogout } from '../signin/backchannel-logout.ts';
import { oidcCallback } from '../signin/callback.ts';
import type { PreauthDeps } from '../signin/signin-deps.ts';
import { signInStart } from '../signin/start.ts';
import { reservedPath } from '../request/request-target.ts';
import { expressStep } from './express-step.ts';
import { BACKCHANNEL_LOGOUT_PATH, CALLBACK_PATH, LOGOUT_PATH, SIGNED_OUT_PATH, SIGNIN_PATH } from '../signin/signin-url.ts';

/**
 * The sign-in endpoints under the reserved /.gatehouse/ prefix of every
 * published host; anything else under that prefix, in any spelling, is
 * refused here, before the session gate, and never forwarded.
 */
export function oidcPreauth(deps: PreauthDeps): Router {
  const router = Router({ caseSensitive: true, strict: true });
  const preauthOnly: RequestHandler = (req, res, next) => {
    const app = getRequestContext(req)?.app;
    if (!app) {
      next('router');
      return;
    }
    if (app.preauth !== 'oidc') {
      sendError(req, res, new GatehouseError('ERR_NOT_FOUND', 'not_a_preauth_app'));
      return;
    }
    next();
  };
  router.get(SIGNIN_PATH, preauthOnly, signInStart(deps));
  router.get(CALLBACK_PATH, preauthOnly, oidcCallback(deps));
  router.get(LOGOUT_PATH, preauthOnly, logout(deps));
  router.post(LOGOUT_PATH, preauthOnly, logout(deps));
  router.get(SIGNED_OUT_PATH, preauthOnly, signedOut());
  router.post(BACKCHANNEL_LOGOUT_PATH, preauthOnly, backchannelLogout(deps));
  router.use(expressStep(reservedPath, deps.audit));
  return router;
}
