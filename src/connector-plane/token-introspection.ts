/**
 * RFC 7662 token introspection for admin access tokens that are not JWTs
 * (opaque): the identity provider says whether the token is active and whose
 * it is. The gateway authenticates as its own client (client_secret_basic).
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { GatehouseError } from '../errors/index.ts';
import { ADMIN_INTROSPECTION_CACHE_ENTRIES, ADMIN_INTROSPECTION_CACHE_MS } from '../limits.ts';

export interface TokenIntrospectionOptions {
  /** The introspection endpoint: configured, else `introspection_endpoint` from discovery. */
  readonly endpoint: () => Promise<URL>;
  readonly clientId: string;
  readonly clientSecret: string | undefined;
  readonly fetch: (url: string, init: RequestInit) => Promise<Response>;
  readonly clock: Clock;
  readonly timeoutMs: number;
}

/** What the provider said about an active token. */
export type IntrospectedClaims = Readonly<Record<string, unknown>>;

interface Cached {
  readonly claims: IntrospectedClaims | undefined;
  readonly until: number;
}

// RFC 6749 appendix B: client_secret_basic encodes both parts as form values first.
const formEncode = (value: string): string => encodeURIComponent(value).replace(/%20/g, '+');

export class TokenIntrospection {
  readonly #options: TokenIntrospectionOptions;
  readonly #cache = new Map<string, Cached>();

  constructor(options: TokenIntrospectionOptions) {
    this.#options = options;
  }

  /** The claims of an active token; throws ERR_ADMIN_TOKEN_INVALID `inactive` for one the provider does not vouch for. */
  async claims(token: string): Promise<IntrospectedClaims> {
    const now = this.#options.clock();
    const key = createHash('sha256').update(token).digest('base64url');
    const hit = this.#cache.get(key);
    const answer = hit !== undefined && hit.until > now ? hit.claims : await this.#ask(token, key, now);
    if (answer === undefined) throw new GatehouseError('ERR_ADMIN_TOKEN_INVALID', 'inactive');
    return answer;
  }

  async #ask(token: string, key: string, now: number): Promise<IntrospectedClaims | undefined> {
    const { clientId, clientSecret, timeoutMs } = this.#options;
    if (clientSecret === undefined) throw new GatehouseError('ERR_IDP_UNAVAILABLE', 'introspection_needs_client_secret');
    let endpoint: URL;
    try {
      endpoint = await this.#options.endpoint();
    } catch (error) {
      throw new GatehouseError('ERR_IDP_UNAVAILABLE', 'introspection_endpoint_unknown', { cause: error });
    }
    let body: unknown;
    try {
      const response = await this.#options.fetch(endpoint.href, {
        method: 'POST',
        headers: {
          accept: 'application/json',
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64')}`,
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!response.ok) throw new GatehouseError('ERR_IDP_UNAVAILABLE', `introspection_status_${response.status}`);
      body = await response.json();
    } catch (error) {
      if (error instanceof GatehouseError) throw error;
      throw new GatehouseError('ERR_IDP_UNAVAILABLE', 'introspection_failed', { cause: error });
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new GatehouseError('ERR_IDP_UNAVAILABLE', 'introspection_malformed');
    const claims = body as Record<string, unknown>;
    // RFC 7662 2.2: only `active: true` vouches for a token; anything else is no.
    const active = claims['active'] === true ? Object.freeze({ ...claims }) : undefined;
    const expiresAt = typeof claims['exp'] === 'number' ? claims['exp'] * 1000 : Number.POSITIVE_INFINITY;
    this.#remember(key, { claims: active, until: Math.min(now + ADMIN_INTROSPECTION_CACHE_MS, expiresAt) });
    return active;
  }

  #remember(key: string, entry: Cached): void {
    this.#cache.delete(key);
    if (this.#cache.size >= ADMIN_INTROSPECTION_CACHE_ENTRIES) {
      // Maps iterate in insertion order: the oldest answer goes first.
      const oldest = this.#cache.keys().next();
      if (oldest.done !== true) this.#cache.delete(oldest.value);
    }
    this.#cache.set(key, entry);
  }
}
