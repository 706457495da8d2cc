import type { AppConfig } from '../config/parse.ts';
import { safeReturnTo } from './return-to.ts';
import { externalUrlOf } from '../config/external-url.ts';
import { OWNED_AUTHORIZATION_PARAMS } from '../config/authorization-params-schema.ts';

export const SIGNIN_PATH = '/.gatehouse/signin';
export const CALLBACK_PATH = '/.gatehouse/callback';
export const LOGOUT_PATH = '/.gatehouse/logout';
export const SIGNED_OUT_PATH = '/.gatehouse/signed-out';
export const BACKCHANNEL_LOGOUT_PATH = '/.gatehouse/backchannel-logout';

export function appOrigin(app: AppConfig): string {
  return externalUrlOf(app).origin;
}

/** The absolute URL that starts a sign-in and comes back to `returnTo` (made safe, else "/"). */
export function signInUrl(app: AppConfig, returnTo: string): string {
  const origin = appOrigin(app);
  const safe = safeReturnTo(returnTo, origin) ?? '/';
  return `${origin}${SIGNIN_PATH}?rd=${encodeURIComponent(safe)}`;
}

/**
 * An authorization request's parameters: the configured extras (`identityProvider.authorizationParams`), then those
 * Gatehouse writes, which win (a step-up's `prompt` over a configured one). An extra Gatehouse owns is dropped even
 * when it got past the configuration check (a configuration object built in code): left in, `client_id` or
 * `response_type` would be kept by the URL builder, which only fills them in when absent.
 */
export function authorizationParameters(extras: Readonly<Record<string, string>>, owned: Readonly<Record<string, string>>): Record<string, string> {
  const kept = Object.entries(extras).filter(([name]) => !OWNED_AUTHORIZATION_PARAMS.includes(name.toLowerCase()));
  return { ...Object.fromEntries(kept), ...owned };
}

/**
 * The scopes an authorization request asks for. `offline_access` (added for `session.refresh`) goes only to a provider
 * that lists it in `scopes_supported`, or lists no scopes: one that lists others without it refuses the whole request
 * (Google answers `invalid_scope`) and asks for offline access its own way (`access_type=offline`).
 */
export function requestedScopes(scopes: readonly string[], scopesSupported: readonly string[] | undefined): readonly string[] {
  if (scopesSupported === undefined || scopesSupported.includes('offline_access')) return scopes;
  return scopes.filter((scope) => scope !== 'offline_access');
}
