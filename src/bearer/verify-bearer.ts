import type { JWTPayload, JWTVerifyOptions, JWTVerifyResult } from 'jose';
import { decodeProtectedHeader } from 'jose';
import type { Clock } from '../clock.ts';
import type { BearerConfig } from '../config/bearer-schema.ts';
import { GatehouseError, type ServiceErrorCode } from '../errors/index.ts';
import { MAX_BEARER_TOKEN_BYTES } from '../limits.ts';

/** The provider's keys: the same object that checks ID tokens and logout tokens (refetch on an unknown key, rate-limited). */
export interface BearerKeys {
  verifyJwt(token: string, options: JWTVerifyOptions, code: ServiceErrorCode): Promise<JWTVerifyResult>;
}

export interface BearerVerifierDeps {
  readonly keys: BearerKeys;
  /** The identity provider's issuer, from the discovery the sign-in already made. */
  readonly issuer: () => Promise<string>;
  readonly clock: Clock;
  /** Seconds of clock difference tolerated on `exp` and `nbf`. */
  readonly clockToleranceSeconds: number;
}

/** What an accepted access token says about its caller. */
export interface VerifiedBearer {
  /** The user's `sub`, or for a machine client its client id. */
  readonly sub: string;
  /** `service`: a token with no user in it (client credentials). */
  readonly kind: 'user' | 'service';
  /** The OAuth client the token was issued to (`client_id`, else `azp`), when it says. */
  readonly clientId: string | undefined;
  readonly scopes: readonly string[];
  /** Epoch seconds. */
  readonly expiresAt: number;
  readonly claims: JWTPayload;
}

/** RFC 9068 2.1: the media type of a JWT access token, with or without its `application/` prefix. */
const ACCESS_TOKEN_TYP = /^(application\/)?at\+jwt$/i;
/** Claims only an ID token carries (OIDC Core 2, 3.1.3.6, 3.3.2.11): a token with one of them is not an access token. */
const ID_TOKEN_ONLY_CLAIMS = ['nonce', 'at_hash', 'c_hash', 's_hash'] as const;

/**
 * Checks an access token presented as `Authorization: Bearer` for an app: a JWT signed by the identity provider
 * with one of the app's algorithms (never `none`), from the provider's issuer (or one the app lists), for one of the
 * app's audiences, inside its `exp`/`nbf` by the gateway's clock, of type `at+jwt` (RFC 9068) when it says a type,
 * never an ID token, and granting every scope the app requires. Throws GatehouseError: ERR_BEARER_TOKEN_INVALID (or
 * ERR_BEARER_SCOPE) whose reason names the check that failed, ERR_IDP_UNAVAILABLE when the keys cannot be fetched.
 */
export async function verifyBearer(token: string, settings: BearerConfig, deps: BearerVerifierDeps): Promise<VerifiedBearer> {
  if (token.length === 0 || Buffer.byteLength(token) > MAX_BEARER_TOKEN_BYTES) throw invalid('malformed');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch (error) {
    throw invalid('malformed', error);
  }
  // Refused before any key is fetched: a made-up token costs the provider nothing.
  if (typeof header.alg !== 'string' || !(settings.algorithms as readonly string[]).includes(header.alg)) throw invalid('alg');
  // Some providers (Entra ID, Okta) type their access tokens plain `JWT`; only a type saying something else is refused here.
  const typed = typeof header.typ === 'string' && ACCESS_TOKEN_TYP.test(header.typ);
  if (header.typ !== undefined && !typed && !(typeof header.typ === 'string' && /^JWT$/i.test(header.typ))) throw invalid('typ');

  const issuers = settings.issuers ?? [await deps.issuer()];
  const { payload } = await deps.keys.verifyJwt(
    token,
    {
      issuer: [...issuers],
      audience: [...settings.audiences],
      algorithms: [...settings.algorithms],
      requiredClaims: ['exp'],
      clockTolerance: deps.clockToleranceSeconds,
      currentDate: new Date(deps.clock()),
    },
    'ERR_BEARER_TOKEN_INVALID',
  );
  if (!typed && looksLikeIdToken(payload)) throw invalid('id_token');

  const scopes = grantedScopes(payload);
  const missing = settings.scopes?.filter((scope) => !scopes.includes(scope)) ?? [];
  if (missing.length > 0) throw new GatehouseError('ERR_BEARER_SCOPE', 'scope_missing');

  const clientId = text(payload['client_id']) ?? text(payload['azp']);
  const sub = text(payload.sub);
  // Client credentials: the provider names no user, or names the client itself as the subject (RFC 9068 2.2).
  const service = sub === undefined || sub === clientId;
  const subject = service ? clientId : sub;
  if (subject === undefined) throw invalid('sub_missing');
  return { sub: subject, kind: service ? 'service' : 'user', clientId, scopes, expiresAt: payload.exp ?? 0, claims: payload };
}

/**
 * An untyped token that is an ID token: one carrying a claim only ID tokens carry, or one naming no client apart from
 * its audience (an ID token's audience is the client it was issued to; every provider's access tokens name their
 * client in `client_id`, `azp`, `cid` or `appid`), or one whose audience is the client itself and that grants nothing.
 */
function looksLikeIdToken(payload: JWTPayload): boolean {
  if (ID_TOKEN_ONLY_CLAIMS.some((claim) => payload[claim] !== undefined)) return true;
  const client = ['client_id', 'azp', 'cid', 'appid'].map((claim) => text(payload[claim])).find((value) => value !== undefined);
  if (client === undefined) return true;
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  const grants = ['scope', 'scp', 'roles'].some((claim) => payload[claim] !== undefined);
  return audiences.includes(client) && !grants;
}

/** `scope` (space-separated, RFC 9068 2.2.3) and `scp` (an array, as Okta and Entra ID send it), together. */
export function grantedScopes(payload: JWTPayload): string[] {
  const granted = new Set<string>();
  for (const claim of [payload['scope'], payload['scp']]) {
    const values = typeof claim === 'string' ? claim.split(' ') : Array.isArray(claim) ? claim : [];
    for (const value of values) if (typeof value === 'string' && value.length > 0) granted.add(value);
  }
  return [...granted];
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= 1024 ? value : undefined;
}

function invalid(reason: string, cause?: unknown): GatehouseError {
  return new GatehouseError('ERR_BEARER_TOKEN_INVALID', reason, cause === undefined ? undefined : { cause });
}
