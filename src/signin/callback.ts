import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { IDToken } from 'openid-client';
import { nowSeconds } from '../clock.ts';
import type { AppConfig } from '../config/parse.ts';
import { GatehouseError } from '../errors/index.ts';
import { SIGNIN_ATTEMPT_TTL_SECONDS } from '../limits.ts';
import { safeReturnTo } from './return-to.ts';
import { appendSetCookie } from '../session/cookies.ts';
import { policyClaimNames, type SignedInUser } from '../session/session-manager.ts';
import { explain } from '../access/explanation.ts';
import { requestPath } from '../access/facts.ts';
import type { Identity } from '../request/context.ts';
import { auditContext } from '../request/audit-context.ts';
import { getRequestContext } from '../request/context.ts';
import { sendError } from '../errors/render-user.ts';
import type { PreauthDeps } from './signin-deps.ts';
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
    const clientIp = getRequestContext(req)?.clientIp ?? '';
    /**
     * Only an authentication that really failed feeds the risk signals: an
     * attempt this browser started, still valid, that the provider answered
     * with an error or whose tokens failed their checks. Callbacks without a
     * known attempt cost an attacker nothing, so counting them would let
     * anyone raise the risk of everyone behind the same address.
     */
    const fail = (
      error: GatehouseError,
      options: { readonly details?: Record<string, string>; readonly sub?: string; readonly authentication?: boolean } = {},
    ): void => {
      deps.audit.emit({ type: 'signin.failed', outcome: 'failure', code: error.code, reason: error.reason, details: options.details, ...auditContext(req) });
      deps.onCallback?.(app.id, 'failure', error.code);
      if (options.authentication === true) deps.signIns?.failure({ sub: options.sub, clientIp, now: nowSeconds(deps.clock) });
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
      // The back button replays used callbacks: a signed-in user just goes on.
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
    let first: boolean;
    try {
      first = await deps.store.consumeState(stateKey, transaction.c + SIGNIN_ATTEMPT_TTL_SECONDS, now);
    } catch (error) {
      // A shared store that cannot say whether this state was used before: no sign-in (503 ERR_STORE_UNAVAILABLE, audited).
      if (!(error instanceof GatehouseError)) throw error;
      fail(error);
      return;
    }
    if (!first) {
      fail(new GatehouseError('ERR_SIGNIN_STATE', 'state_replayed'));
      return;
    }
    const idpError = query.get('error');
    if (idpError !== null) {
      const reason = `authorization:${idpError.replace(/[^A-Za-z0-9_]/g, '').slice(0, 64)}`;
      fail(new GatehouseError(idpError === 'access_denied' ? 'ERR_SIGNIN_DENIED' : 'ERR_IDP_ERROR', reason), { authentication: true });
      return;
    }

    let verified;
    try {
      verified = await deps.oidc.exchange(new URL(`${origin}${CALLBACK_PATH}?${query.toString()}`), {
        ...transaction,
        ...(transaction.su ? { maxAge: 0 } : {}),
      });
    } catch (error) {
      const mapped = error instanceof GatehouseError ? error : new GatehouseError('ERR_IDP_ERROR', 'unexpected', { cause: error });
      // A provider that cannot be reached says nothing about who is signing in.
      fail(mapped, { authentication: mapped.code !== 'ERR_IDP_UNAVAILABLE' });
      return;
    }
    let groups: string[];
    try {
      groups = await deps.oidc.groups.resolve(verified.claims, verified.accessToken);
    } catch (error) {
      // Fail closed (overage with no groups endpoint, or one that failed): an empty list would make group policies answer wrongly.
      if (!(error instanceof GatehouseError)) throw error;
      fail(error, { details: { sub: verified.claims.sub } });
      return;
    }
    const user = { ...signedInUser(verified.claims, verified.idToken, groups), refreshToken: verified.refreshToken };

    // Conditional access at sign-in (step 6), for the page the user is going to.
    const decision = await deps.access.decide(req, app, previewIdentity(app, user), requestPath(transaction.rt), clientIp, 'sign-in');
    if (decision && decision.effect !== 'allow') {
      const explanation = explain(decision);
      if (decision.effect === 'deny' || transaction.su) {
        // A step-up already went to the provider once: it is not sent again (no loops, ever).
        const error =
          decision.effect === 'deny'
            ? new GatehouseError('ERR_POLICY_DENIED', 'policy')
            : new GatehouseError('ERR_STEP_UP_FAILED', `step_up_${transaction.su}`);
        deps.audit.emit({
          type: 'access.denied',
          outcome: 'failure',
          code: error.code,
          reason: decision.failed.map((outcome) => `${outcome.policy}:${outcome.reason}`).join(' '),
          user: { sub: user.sub, name: user.name, email: user.email },
          details: { at: 'sign-in' },
          ...auditContext(req),
        });
        deps.onCallback?.(app.id, 'denied', error.code);
        // A policy denial is not a failed authentication; a step-up that still lacks MFA is.
        if (transaction.su) deps.signIns?.failure({ sub: user.sub, clientIp, now });
        sendError(req, res, error, {
          details: explanation.details,
          ...(explanation.remedy === 'sign-in-with-mfa' || explanation.remedy === 'sign-in-again'
            ? { action: { label: 'Try signing in again', href: `${signInUrl(app, transaction.rt)}&stepup=${decision.stepUp?.reason ?? 'mfa'}` } }
            : {}),
        });
        return;
      }
    }

    let issued;
    try {
      issued = await deps.sessions.issue(app, user, { persistentAllowed: decision?.persistentAllowed ?? true });
    } catch (error) {
      if (error instanceof GatehouseError) {
        // The user authenticated; the gateway could not keep the session.
        fail(error, { details: { sub: user.sub } });
        return;
      }
      throw error;
    }
    appendSetCookie(res, issued.setCookie);
    appendSetCookie(res, deps.loops.recordCompletion(req, app.id, secure));
    deps.signIns?.success({ sub: user.sub, clientIp, now });
    deps.onCallback?.(app.id, 'success', undefined);
    deps.audit.emit({
      type: 'signin.succeeded',
      outcome: 'success',
      user: { sub: user.sub, name: user.name, email: user.email },
      details: { amr: user.amr.join(' '), acr: user.acr ?? null, sessionExpiresAt: issued.record.exp, idTokenKept: issued.idTokenKept },
      ...auditContext(req),
    });
    if (decision?.effect === 'step-up' && decision.stepUp) {
      // Signed in, but the page asks for more: once, straight to the step-up sign-in.
      res.statusCode = 302;
      res.setHeader('Location', `${signInUrl(app, transaction.rt)}&stepup=${decision.stepUp.reason}`);
      res.end();
      return;
    }
    redirectBack(res, app, transaction.rt);
  };
}

/** The identity a session for `user` would carry, for evaluating policy before the session exists. */
function previewIdentity(app: AppConfig, user: SignedInUser): Identity {
  const kept: Record<string, unknown> = {};
  for (const name of policyClaimNames(app)) if (user.claims?.[name] !== undefined) kept[name] = user.claims[name];
  return {
    sub: user.sub,
    name: user.name,
    email: user.email,
    emailVerified: user.email !== undefined && user.emailVerified === true,
    groups: user.groups,
    amr: user.amr,
    acr: user.acr,
    authTime: user.authTime,
    sessionId: 'pending',
    sessionExpiresAt: user.idTokenExpiresAt,
    app: app.id,
    claims: kept,
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

function signedInUser(claims: IDToken, idToken: string, groups: readonly string[]): SignedInUser {
  return {
    sub: claims.sub,
    groups,
    name: stringClaim(claims['name']),
    email: stringClaim(claims['email']),
    emailVerified: claims['email_verified'] === true,
    amr: stringArrayClaim(claims.amr),
    acr: stringClaim(claims.acr),
    // Without auth_time the authentication time is unknown, never "now": every sign-in frequency check then fails.
    authTime: typeof claims.auth_time === 'number' ? claims.auth_time : undefined,
    idTokenExpiresAt: claims.exp,
    idToken,
    idpSessionId: stringClaim(claims['sid']),
    claims,
  };
}

function stringClaim(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function stringArrayClaim(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}
