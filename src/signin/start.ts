import type { RequestHandler } from 'express';
import * as client from 'openid-client';
import { GatehouseError } from '../errors/index.ts';
import { safeReturnTo } from './return-to.ts';
import { appendSetCookie } from '../session/cookies.ts';
import { auditContext } from '../request/audit-context.ts';
import { getRequestContext } from '../request/context.ts';
import { sendError } from '../errors/render-user.ts';
import type { PreauthDeps } from './signin-deps.ts';
import { appOrigin, CALLBACK_PATH, requestedScopes, signInUrl } from './signin-url.ts';

/**
 * GET /.gatehouse/signin?rd=PATH — starts one sign-in attempt: a sealed
 * transaction cookie with state, nonce and PKCE verifier, then a redirect to
 * the identity provider's authorization endpoint.
 */
export function signInStart(deps: PreauthDeps): RequestHandler {
  return async (req, res) => {
    const context = getRequestContext(req);
    const app = context?.app;
    if (!app) throw new GatehouseError('ERR_INTERNAL', 'no_app_context');
    const origin = appOrigin(app);
    const requested = typeof req.query['rd'] === 'string' ? req.query['rd'] : '/';
    const returnTo = safeReturnTo(requested, origin);
    if (returnTo === undefined) {
      deps.audit.emit({
        type: 'signin.failed',
        outcome: 'failure',
        code: 'ERR_RETURN_URL_REFUSED',
        reason: 'unsafe_return_url',
        ...auditContext(req),
      });
      sendError(req, res, new GatehouseError('ERR_RETURN_URL_REFUSED', 'unsafe_return_url'));
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    const stepUpParam = req.query['stepup'];
    const stepUp = stepUpParam === 'mfa' || stepUpParam === 'sign_in_frequency' ? stepUpParam : undefined;

    const current = await deps.sessions.read(req, app);
    if (current.ok && !stepUp) {
      res.redirect(302, `${origin}${returnTo}`);
      return;
    }
    const { secure } = deps.sessions.settingsFor(app);
    const loop = deps.loops.check(req, app.id, secure);
    if (loop.refused !== undefined) {
      // Not written by this gateway for this app (planted from a sibling host, edited, or another key): ignored, never a block.
      deps.audit.emit({ type: 'session.rejected', outcome: 'failure', reason: `loop_cookie_${loop.refused}`, ...auditContext(req) });
      appendSetCookie(res, deps.loops.clearCookie(secure));
    }
    if (loop.looping) {
      deps.audit.emit({ type: 'signin.loop_detected', outcome: 'failure', code: 'ERR_SIGNIN_LOOP', reason: 'cookie_not_kept', ...auditContext(req) });
      sendError(req, res, new GatehouseError('ERR_SIGNIN_LOOP', 'cookie_not_kept'), { signInUrl: signInUrl(app, returnTo) });
      return;
    }

    const transaction = await deps.transactions.create(req, app.id, secure, returnTo, stepUp);
    const url = await deps.oidc.authorizationUrl({
      redirect_uri: `${origin}${CALLBACK_PATH}`,
      scope: requestedScopes(deps.scopes, await deps.oidc.scopesSupported()).join(' '),
      state: transaction.record.state,
      nonce: transaction.record.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(transaction.record.verifier),
      code_challenge_method: 'S256',
      // A step-up asks for a fresh authentication, and for MFA by acr_values when the provider knows them.
      ...(stepUp ? { prompt: 'login', max_age: '0' } : {}),
      ...(stepUp === 'mfa' && (deps.access.mfa.acrValues?.length ?? 0) > 0 ? { acr_values: (deps.access.mfa.acrValues ?? []).join(' ') } : {}),
    });
    for (const line of transaction.setCookies) appendSetCookie(res, line);
    deps.audit.emit({ type: 'signin.started', outcome: 'info', ...(stepUp ? { reason: `step_up:${stepUp}` } : {}), ...auditContext(req) });
    res.redirect(302, url.href);
  };
}
