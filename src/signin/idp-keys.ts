import { setTimeout as sleep } from 'node:timers/promises';
import * as jose from 'jose';
import { GatehouseError, type ServiceErrorCode } from '../errors/index.ts';
import { IDP_JWKS_MAX_AGE_MS, IDP_JWKS_REFETCH_MIN_INTERVAL_MS } from '../limits.ts';

/** A fetch for talking to the identity provider (trusting its configured CA). */
export type KeysFetch = (url: string, init: RequestInit) => Promise<Response>;

export interface IdpKeysOptions {
  /** Where the provider publishes its keys (from discovery); asked once, on first use. */
  readonly jwksUri: () => Promise<URL>;
  readonly fetch: KeysFetch;
  /** Seconds each JWKS fetch may take. */
  readonly timeoutSeconds: number;
  /** Default IDP_JWKS_REFETCH_MIN_INTERVAL_MS. */
  readonly refetchIntervalMs?: number;
  /** Default IDP_JWKS_MAX_AGE_MS. */
  readonly maxAgeMs?: number;
}

/**
 * The identity provider's signing keys, for every token the gateway checks
 * against them (ID tokens, logout tokens, bearer tokens). A token naming a
 * key not in the cached set fetches the set again at once, so a rotation at
 * the provider never fails a sign-in; those fetches are rate-limited to one
 * per refetch interval, so made-up key ids cannot turn the gateway into a
 * flood against the provider. A token that arrives while the interval since
 * the last fetch is still running waits for the next one (shared by every
 * such token) rather than fail: a rotation right after a fetch is still seen.
 */
export class IdpKeys {
  readonly #options: IdpKeysOptions;
  readonly #intervalMs: number;
  #jwks: RemoteKeys | undefined;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #nextFetch: Promise<void> | undefined;

  constructor(options: IdpKeysOptions) {
    this.#options = options;
    this.#intervalMs = options.refetchIntervalMs ?? IDP_JWKS_REFETCH_MIN_INTERVAL_MS;
  }

  /** Verifies a JWT's signature with the provider's keys and its claims as `options` ask. Throws GatehouseError with `code`. */
  async verifyJwt(token: string, options: jose.JWTVerifyOptions, code: IdpKeysErrorCode): Promise<jose.JWTVerifyResult> {
    if (!isCanonicalCompact(token)) throw new GatehouseError(code, 'malformed');
    const keys = await this.#keys(code);
    try {
      return await this.#withRefetch(keys, () => jose.jwtVerify(token, keys, options));
    } catch (error) {
      throw refusal(code, error);
    }
  }

  /** Verifies only a compact JWS's signature (claims are checked elsewhere), allowing `algorithms`. */
  async verifySignature(token: string, algorithms: readonly string[], code: IdpKeysErrorCode): Promise<void> {
    if (!isCanonicalCompact(token)) throw new GatehouseError(code, 'malformed');
    const keys = await this.#keys(code);
    try {
      await this.#withRefetch(keys, () => jose.compactVerify(token, keys, { algorithms: [...algorithms] }));
    } catch (error) {
      throw refusal(code, error);
    }
  }

  /**
   * jose fetches the set again on an unknown key when the interval since the last fetch has passed;
   * within it, this waits for the next allowed fetch (one for every waiting token) and tries once more.
   */
  async #withRefetch<T>(keys: RemoteKeys, verify: () => Promise<T>): Promise<T> {
    try {
      return await verify();
    } catch (error) {
      if (!(error instanceof jose.errors.JWKSNoMatchingKey) || !keys.coolingDown) throw error;
      this.#nextFetch ??= sleep(Math.max(0, this.#fetchedAt + this.#intervalMs - Date.now()))
        .then(() => keys.reload())
        .finally(() => (this.#nextFetch = undefined));
      await this.#nextFetch;
      return verify();
    }
  }

  async #keys(code: IdpKeysErrorCode): Promise<RemoteKeys> {
    if (this.#jwks) return this.#jwks;
    let uri: URL;
    try {
      uri = await this.#options.jwksUri();
    } catch (error) {
      if (error instanceof GatehouseError && error.code === 'ERR_IDP_UNAVAILABLE') throw error;
      throw new GatehouseError(code, 'jwks_unknown', { cause: error });
    }
    // jose refetches on an unknown kid once the cooldown has passed: the cooldown is our rate limit.
    this.#jwks ??= jose.createRemoteJWKSet(uri, {
      [jose.customFetch]: async (url, init) => {
        this.#fetchedAt = Date.now();
        try {
          return await this.#options.fetch(url, init);
        } finally {
          // jose counts its cooldown from the answer: so does the wait for the next fetch.
          this.#fetchedAt = Date.now();
        }
      },
      cooldownDuration: this.#intervalMs,
      cacheMaxAge: this.#options.maxAgeMs ?? IDP_JWKS_MAX_AGE_MS,
      timeoutDuration: this.#options.timeoutSeconds * 1000,
    });
    return this.#jwks;
  }
}

type RemoteKeys = ReturnType<typeof jose.createRemoteJWKSet>;

/**
 * A compact JWS whose three parts are base64url as an encoder writes it. jose's decoder ignores the padding bits of
 * a part's last character, so one signed token could be presented under several spellings that all verify; only the
 * one the provider wrote is accepted.
 */
function isCanonicalCompact(token: string): boolean {
  const parts = token.split('.');
  return parts.length === 3 && parts.every((part) => /^[\w-]*$/.test(part) && Buffer.from(part, 'base64url').toString('base64url') === part);
}

/** A provider that cannot be asked for its keys says nothing about the token: that is ERR_IDP_UNAVAILABLE, whatever the caller's code. */
function refusal(code: IdpKeysErrorCode, error: unknown): GatehouseError {
  const reason = keyFailureReason(error);
  return new GatehouseError(reason === 'jwks_unavailable' ? 'ERR_IDP_UNAVAILABLE' : code, reason, { cause: error });
}

/** The code a caller's refused token carries; the reason says which check failed. */
export type IdpKeysErrorCode = ServiceErrorCode;

/** A short, stable reason for a failed verification: it goes to the audit log, never the details. */
export function keyFailureReason(error: unknown): string {
  if (error instanceof jose.errors.JWTExpired) return 'expired';
  if (error instanceof jose.errors.JWTClaimValidationFailed) {
    return `${error.claim.replace(/[^A-Za-z0-9_]/g, '').slice(0, 32)}_${error.reason === 'missing' ? 'missing' : 'mismatch'}`;
  }
  if (error instanceof jose.errors.JWKSNoMatchingKey) return 'unknown_key';
  if (error instanceof jose.errors.JWKSMultipleMatchingKeys) return 'ambiguous_key';
  if (error instanceof jose.errors.JWSSignatureVerificationFailed) return 'signature';
  if (error instanceof jose.errors.JOSEAlgNotAllowed || error instanceof jose.errors.JOSENotSupported) return 'alg';
  if (error instanceof jose.errors.JWKSTimeout || error instanceof jose.errors.JWKSInvalid) return 'jwks_unavailable';
  if (error instanceof jose.errors.JWSInvalid || error instanceof jose.errors.JWTInvalid) return 'malformed';
  if (error instanceof TypeError) return 'jwks_unavailable';
  return 'invalid';
}
