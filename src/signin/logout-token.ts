import { createHash } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import { nowSeconds, type Clock } from '../clock.ts';
import { GatehouseError } from '../errors/index.ts';
import { LOGOUT_TOKEN_MAX_AGE_SECONDS } from '../limits.ts';
import type { SessionStore } from '../session/session-store.ts';
import type { OidcClient } from './oidc-client.ts';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** What a valid logout token says: which provider session ended, or (without `sid`) which user's sessions. */
export type LogoutToken = { readonly sid: string; readonly sub: string | undefined } | { readonly sid?: undefined; readonly sub: string };

/**
 * Checks a logout token (OpenID Connect Back-Channel Logout 1.0, 2.6): its
 * signature with the provider's keys, `iss`, `aud`, a recent `iat`, the
 * back-channel event, no `nonce` (so an ID token cannot pass for one), the
 * `logout+jwt` type when it says one, and a `jti` never seen before by any
 * instance sharing the store. Throws ERR_BAD_REQUEST whose reason names the
 * check that failed.
 */
export async function verifyLogoutToken(
  token: string,
  deps: { readonly oidc: OidcClient; readonly store: SessionStore; readonly clock: Clock },
): Promise<LogoutToken> {
  let typ: unknown;
  try {
    typ = decodeProtectedHeader(token).typ;
  } catch (error) {
    throw new GatehouseError('ERR_BAD_REQUEST', 'malformed', { cause: error });
  }
  if (typ !== undefined && (typeof typ !== 'string' || !/^(application\/)?logout\+jwt$/i.test(typ))) throw new GatehouseError('ERR_BAD_REQUEST', 'typ');

  const checks = await deps.oidc.tokenChecks();
  const { payload } = await deps.oidc.keys.verifyJwt(
    token,
    {
      issuer: checks.issuer,
      audience: checks.audience,
      algorithms: [...checks.algorithms],
      clockTolerance: checks.clockToleranceSeconds,
      maxTokenAge: LOGOUT_TOKEN_MAX_AGE_SECONDS,
      currentDate: new Date(deps.clock()),
    },
    'ERR_BAD_REQUEST',
  );
  const now = nowSeconds(deps.clock);
  if (typeof payload.iat !== 'number' || payload.iat > now + checks.clockToleranceSeconds) throw new GatehouseError('ERR_BAD_REQUEST', 'iat_mismatch');
  const events = payload['events'];
  const event =
    typeof events === 'object' && events !== null && !Array.isArray(events) ? (events as Record<string, unknown>)[BACKCHANNEL_LOGOUT_EVENT] : undefined;
  if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new GatehouseError('ERR_BAD_REQUEST', 'events');
  if (payload['nonce'] !== undefined) throw new GatehouseError('ERR_BAD_REQUEST', 'nonce');
  const sid = nonEmpty(payload['sid']);
  const sub = nonEmpty(payload.sub);
  if (sid === undefined && sub === undefined) throw new GatehouseError('ERR_BAD_REQUEST', 'no_sid_or_sub');
  const jti = nonEmpty(payload.jti);
  if (jti === undefined) throw new GatehouseError('ERR_BAD_REQUEST', 'no_jti');

  // Used ids are kept as long as the token could be accepted, in the store every instance shares.
  const key = `logout-jti.${createHash('sha256').update(`${checks.issuer}\n${jti}`).digest('base64url')}`;
  let first: boolean;
  try {
    first = await deps.store.consumeState(key, payload.iat + LOGOUT_TOKEN_MAX_AGE_SECONDS + checks.clockToleranceSeconds + 1, now);
  } catch (error) {
    throw new GatehouseError('ERR_BAD_REQUEST', 'store_unavailable', { cause: error });
  }
  if (!first) throw new GatehouseError('ERR_BAD_REQUEST', 'jti_replayed');
  return sid !== undefined ? { sid, sub } : { sub: sub ?? '' };
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= 1024 ? value : undefined;
}
