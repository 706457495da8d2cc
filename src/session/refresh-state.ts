import { z } from 'zod';
import type { GatewayConfig } from '../config/parse.ts';
import {
  SESSION_REFRESH_LOCK_SECONDS,
  SESSION_REFRESH_MARGIN_FRACTION,
  SESSION_REFRESH_MARGIN_SECONDS,
  SESSION_REFRESH_WRITE_MARGIN_SECONDS,
} from '../limits.ts';
import type { PasswordMap } from './seal-keys.ts';
import { seal, unseal } from './sealer.ts';

/** What the latest refreshed ID token says about the user (it replaces what the sign-in said). */
export interface RefreshedUser {
  readonly name?: string | undefined;
  readonly email?: string | undefined;
  readonly ev: boolean;
  readonly groups: readonly string[];
  readonly amr: readonly string[];
  readonly acr?: string | undefined;
  readonly at?: number | undefined;
  readonly c?: Readonly<Record<string, string | number | boolean | string[]>> | undefined;
}

/**
 * A refreshable session's server-side state, beside its sealed cookie (whose
 * `exp` is then the absolute cap, `maxLifetime`). The refresh token itself is
 * sealed with a key of its own, so a copy of the store alone reveals nothing.
 */
export interface RefreshState {
  /** The refresh token, iron-sealed with the refresh keys. */
  readonly token: string;
  /** The current ID token's issue time and expiry, epoch seconds (expiry never past the session's cap). */
  readonly iat: number;
  readonly exp: number;
  /** How many refreshes so far: the token of one generation is spent by one holder only. */
  readonly gen: number;
  /** Absent until the first refresh. */
  readonly user?: RefreshedUser | undefined;
}

const sealedTokenSchema = z.strictObject({ rt: z.string().min(1).max(8192) });

export function sealRefreshToken(token: string, keys: PasswordMap, ttlSeconds: number): Promise<string> {
  return seal({ rt: token }, keys, ttlSeconds);
}

/** Undefined when the seal is not ours, has expired or was made with a retired key. */
export async function unsealRefreshToken(sealed: string, keys: PasswordMap): Promise<string | undefined> {
  const result = await unseal(sealed, keys, sealedTokenSchema);
  return result.ok ? result.value.rt : undefined;
}

/** When the ID token is refreshed: a margin before it expires, of 5 minutes or a tenth of its lifetime, whichever is shorter. */
export function refreshDueAt(state: Pick<RefreshState, 'iat' | 'exp'>): number {
  const lifetime = Math.max(0, state.exp - state.iat);
  return state.exp - Math.min(SESSION_REFRESH_MARGIN_SECONDS, Math.ceil(lifetime * SESSION_REFRESH_MARGIN_FRACTION));
}

/**
 * How long the refresh lease is held: longer than everything between sending
 * a refresh token and storing the answer can take (the token request, fetching
 * the provider's keys again to check the new ID token, every page of the
 * groups endpoint, the write and its retries), so that no other instance
 * sends the same token meanwhile; never shorter than SESSION_REFRESH_LOCK_SECONDS.
 */
export function refreshLeaseSeconds(idp: Pick<GatewayConfig['identityProvider'], 'timeoutSeconds' | 'groupsEndpoint'>): number {
  const groups = idp.groupsEndpoint ? idp.groupsEndpoint.maxPages * (idp.groupsEndpoint.timeoutSeconds ?? idp.timeoutSeconds) : 0;
  return Math.max(SESSION_REFRESH_LOCK_SECONDS, 2 * idp.timeoutSeconds + groups + 2 * SESSION_REFRESH_WRITE_MARGIN_SECONDS);
}

/** The store key that gives one holder, on any instance, the right to spend generation `gen`'s token for a while. */
export function refreshLockKey(sessionId: string, gen: number): string {
  return `session-refresh.${sessionId}.${gen}`;
}
