import type { AppConfig } from '../config/parse.ts';
import { safeReturnTo } from './return-to.ts';
import { externalUrlOf } from '../config/external-url.ts';

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
