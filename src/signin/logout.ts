import type { RequestHandler } from 'express';
import { GatehouseError } from '../errors/index.ts';
import { appendSetCookie } from '../session/cookies.ts';
import { auditContext } from '../request/audit-context.ts';
import { getRequestContext } from '../request/context.ts';
import { escapeHtml, OWN_PAGE_HEADERS, renderPage } from '../errors/html.ts';
import type { PreauthDeps } from './signin-deps.ts';
import { appOrigin, LOGOUT_PATH, SIGNED_OUT_PATH, signInUrl } from './signin-url.ts';

/**
 * GET|POST /.gatehouse/logout — ends the session for real: its id is revoked
 * (so a copy of the cookie taken before dies too), the cookie is cleared, and
 * the browser goes to the provider's RP-initiated logout when it has one.
 * A cross-site request gets a confirmation form instead.
 */
export function logout(deps: PreauthDeps): RequestHandler {
  return async (req, res) => {
    const app = getRequestContext(req)?.app;
    if (!app) throw new GatehouseError('ERR_INTERNAL', 'no_app_context');
    const origin = appOrigin(app);
    for (const [name, value] of Object.entries(OWN_PAGE_HEADERS)) res.setHeader(name, value);

    const site = req.headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') {
      res
        .status(200)
        .type('html')
        .send(
          renderPage(
            'Sign out?',
            `<h1>Sign out?</h1><p>Another site asked to sign you out of this application.</p>
<form method="post" action="${escapeHtml(LOGOUT_PATH)}"><button class="button" type="submit">Sign out</button></form>`,
          ),
        );
      return;
    }

    const check = await deps.sessions.read(req, app);
    const record = check.record ?? undefined;
    appendSetCookie(res, deps.sessions.clearCookie(app));
    let idToken: string | undefined;
    if (record && record.app === app.id) {
      // The hint is optional: a store that cannot be read (Redis down) must not keep the session from ending.
      idToken = await deps.sessions.idTokenOf(record).catch(() => undefined);
      await deps.sessions.revoke(record);
      deps.sockets.closeSession(record.sid);
      deps.audit.emit({
        type: 'logout',
        outcome: 'success',
        user: { sub: record.sub, name: record.name, email: record.email },
        details: { sessionId: record.sid },
        ...auditContext(req),
      });
    }

    let target = `${origin}${SIGNED_OUT_PATH}`;
    try {
      const endSession = await deps.oidc.endSessionUrl({
        client_id: deps.clientId,
        post_logout_redirect_uri: target,
        ...(idToken ? { id_token_hint: idToken } : {}),
      });
      if (endSession) target = endSession.href;
    } catch {
      // The provider is unreachable: the local session is gone all the same.
    }
    res.redirect(303, target);
  };
}

/** GET /.gatehouse/signed-out — where the provider sends the browser back after logout. */
export function signedOut(): RequestHandler {
  return (req, res) => {
    const app = getRequestContext(req)?.app;
    if (!app) throw new GatehouseError('ERR_INTERNAL', 'no_app_context');
    for (const [name, value] of Object.entries(OWN_PAGE_HEADERS)) res.setHeader(name, value);
    const again = signInUrl(app, '/');
    res
      .status(200)
      .type('html')
      .send(
        renderPage(
          'Signed out',
          `<h1>You are signed out</h1><p>Your session for ${escapeHtml(new URL(appOrigin(app)).host)} has ended.</p>
<p><a class="button" href="${escapeHtml(again)}">Sign in again</a></p>`,
        ),
      );
  };
}
