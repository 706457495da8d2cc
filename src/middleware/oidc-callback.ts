import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { IDToken } from 'openid-client';
import { nowSeconds } from '../clock.ts';
import type { AppConfig } from '../config/parse.ts';
import { GatehouseError } from '../errors.ts';
import { SIGNIN_ATTEMPT_TTL_SECONDS } from '../limits.ts';
import { safeReturnTo } from '../oidc/return-to.ts';
import { appendSetCookie } from '../session/cookies.ts';
import type { SignedInUser } from '../session/session-manager.ts';
import { auditContext } from './audit-context.ts';
import { getRequestContext } from './context.ts';
import { sendError } from './error-response.ts';
import type { PreauthDeps } from './preauth-deps.ts';
import { appOrigin, CALLBACK_PATH, signInUrl } from './signin-url.ts';

/**
 * GET /.gatehouse/callback — completes a sign-in: the state must match a
 * transaction cookie of this browser and app, used once; openid-client
 * exchanges the code with PKCE and verifies the ID token; then the session
 * cookie is set and the user goes back where they were going.
 */
export function oidcCallback(deps: PreauthDeps): RequestHandler {
  return async (req, res) => {
    const app = getRequestContext(req)?.app;
    if (!app) throw new GatehouseError('ERR_INTERNAL', 'no_app_context');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    const origin = appOrigin(app);
    const { secure } = deps.sessions.settingsFor(app);
    const query = new URL(req.originalUrl, origin).searchParams;
    const fail = (error: GatehouseError, details?: Record<string, string>): void => {
      deps.audit.emit({ type: 'signin.failed', outcome: 'failure', code: error.code, reason: error.reason, details, ...auditContext(req) });
      sendError(req, res, error, { signInUrl: signInUrl(app, '/') });
    };

    const states = query.getAll('state');
    if (states.length !== 1 || !states[0]) {
      fail(new GatehouseError('ERR_SIGNIN_STATE', states.length === 0 ? 'missing_state' : 'duplicate_state'));
      return;
    }
    const state = states[0];
    const lookup = await deps.transactions.find(req, secure, state);
    if (!lookup.ok) {
      // The back button replays used callbacks: a signed-in user just goes on (field lesson 3).
      if (lookup.reason === 'missing' && (await deps.sessions.read(req, app)).ok) {
        res.redirect(302, `${origin}/`);
        return;
      }
      fail(new GatehouseError('ERR_SIGNIN_STATE', `transaction_${lookup.reason}`));
      return;
    }
    const transaction = lookup.record;
    appendSetCookie(res, deps.transactions.expire(lookup.cookieName, secure));
    if (transaction.app !== app.id) {
      fail(new GatehouseError('ERR_SIGNIN_STATE', 'other_app'));
      return;
    }
    const now = nowSeconds(deps.clock);
    const stateKey = createHash('sha256').update(state).digest('base64url');
    if (!(await deps.store.consumeState(stateKey, transaction.c + SIGNIN_ATTEMPT_TTL_SECONDS, now))) {
      fail(new GatehouseError('ERR_SIGNIN_STATE', 'state_replayed'));
      return;
    }
    const idpError = query.get('error');
    if (idpError !== null) {
      const reason = `authorization:${idpError.replace(/[^A-Za-z0-9_]/g, '').slice(0, 64)}`;
      fail(new GatehouseError(idpError === 'access_denied' ? 'ERR_SIGNIN_DENIED' : 'ERR_IDP_ERROR', reason));
      return;
    }

    let verified;
    try {
      verified = await deps.oidc.exchange(new URL(`${origin}${CALLBACK_PATH}?${query.toString()}`), transaction);
    } catch (error) {
      const mapped = error instanceof GatehouseError ? error : new GatehouseError('ERR_IDP_ERROR', 'unexpected', { cause: error });
      fail(mapped);
      return;
    }
    const user = signedInUser(verified.claims, verified.idToken, now);
    let issued;
    try {
      issued = await deps.sessions.issue(app, user);
    } catch (error) {
      if (error instanceof GatehouseError) {
        fail(error, { sub: user.sub });
        return;
      }
      throw error;
    }
    appendSetCookie(res, issued.setCookie);
    appendSetCookie(res, deps.loops.recordCompletion(req, secure));
    deps.audit.emit({
      type: 'signin.succeeded',
      outcome: 'success',
      user: { sub: user.sub, name: user.name, email: user.email },
      details: { amr: user.amr.join(' '), acr: user.acr ?? null, sessionExpiresAt: issued.record.exp },
      ...auditContext(req),
    });
    redirectBack(res, app, transaction.rt);
  };
}

function redirectBack(res: ServerResponse, app: AppConfig, returnTo: string): void {
  const origin = appOrigin(app);
  // Checked again: the transaction cookie is ours, but the rule is cheap and absolute.
  const path = safeReturnTo(returnTo, origin) ?? '/';
  res.statusCode = 302;
  res.setHeader('Location', `${origin}${path}`);
  res.end();
}

function signedInUser(claims: IDToken, idToken: string, now: number): SignedInUser {
  return {
    sub: claims.sub,
    name: stringClaim(claims['name']),
    email: stringClaim(claims['email']),
    groups: stringArrayClaim(claims['groups']),
    amr: stringArrayClaim(claims.amr),
    acr: stringClaim(claims.acr),
    authTime: typeof claims.auth_time === 'number' ? claims.auth_time : now,
    idTokenExpiresAt: claims.exp,
    idToken,
  };
}

function stringClaim(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function stringArrayClaim(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}
