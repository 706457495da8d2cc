/**
 * The rate limits on the gateway's request path, after app resolution and
 * before the sign-in endpoints and the session gate: what each request is
 * charged to, and the 429 of a refusal. The sign-in endpoints have stricter
 * limits of their own. Any other request with no session cookie or access
 * token is anonymous. One that carries either is never refused or charged
 * here (a signed-in user is not slowed by anyone's flood, not even one from
 * the same address), and is charged as anonymous only once the session gate
 * has refused what it carried.
 */
import type { RequestHandler } from 'express';
import type { AppConfig } from '../config/parse.ts';
import { externalUrlOf } from '../config/external-url.ts';
import type { RateLimitName, RateLimitSettings } from '../config/rate-limit-schema.ts';
import { GatehouseError } from '../errors/index.ts';
import { sendError } from '../errors/render-user.ts';
import { getRequestContext } from '../request/context.ts';
import { readCookies, sessionCookieName } from '../session/cookies.ts';
import { BACKCHANNEL_LOGOUT_PATH, CALLBACK_PATH, SIGNIN_PATH } from '../signin/signin-url.ts';
import { RATE_LIMIT_LABELS, type RateLimiter } from './rate-limiter.ts';

/** The endpoints with limits of their own, by exact path (the sign-in router matches case and trailing slash exactly too). */
const ENDPOINT_LIMITS: ReadonlyMap<string, RateLimitName> = new Map([
  [SIGNIN_PATH, 'signin'],
  [CALLBACK_PATH, 'callback'],
  [BACKCHANNEL_LOGOUT_PATH, 'backchannelLogout'],
]);

export interface RateLimitStepOptions {
  readonly limiter: RateLimiter;
  readonly settings: RateLimitSettings;
  readonly apps: readonly AppConfig[];
  /** `session.cookieName`: the session cookie's name on each app. */
  readonly sessionCookieBase: string;
}

export function rateLimitStep(options: RateLimitStepOptions): RequestHandler {
  const { limiter, settings } = options;
  const cookieNames = new Map(options.apps.map((app) => [app.id, sessionCookieName(options.sessionCookieBase, externalUrlOf(app).secure)]));
  return (req, res, next) => {
    const context = getRequestContext(req);
    const app = context?.app;
    if (!context || !app) {
      next();
      return;
    }
    const target = req.originalUrl;
    const query = target.indexOf('?');
    const name = ENDPOINT_LIMITS.get(query === -1 ? target : target.slice(0, query)) ?? 'anonymous';
    if (
      name === 'anonymous' &&
      app.preauth !== 'passthrough' &&
      carriesCredentials(req.headers.authorization, app, readCookies(req)[cookieNames.get(app.id) ?? ''])
    ) {
      res.once('finish', () => {
        if (!context.identity) limiter.charge('anonymous', settings, context.clientIp);
      });
      next();
      return;
    }
    const wait = limiter.check(name, settings, { clientIp: context.clientIp, app: app.id, userAgent: context.userAgent, requestId: context.requestId });
    if (wait === 0) {
      next();
      return;
    }
    res.setHeader('Retry-After', String(wait));
    sendError(req, res, new GatehouseError('ERR_RATE_LIMITED', RATE_LIMIT_LABELS[name]));
  };
}

/** A session cookie, or an access token on an app that takes them: what the session gate will judge. */
function carriesCredentials(authorization: string | undefined, app: AppConfig, sessionCookie: string | undefined): boolean {
  if (sessionCookie !== undefined && sessionCookie !== '') return true;
  return app.bearer !== undefined && authorization !== undefined && authorization.length > 0;
}
