import { rootCertificates } from 'node:tls';
import * as client from 'openid-client';
import { Agent, fetch as undiciFetch, type RequestInit as UndiciRequestInit } from 'undici';
import type { Clock } from '../clock.ts';
import type { GatewayConfig } from '../config/parse.ts';
import { GatehouseError } from '../errors/index.ts';
import { IDP_DISCOVERY_RETRY_MS } from '../limits.ts';
import { describe, mapExchangeError } from './exchange-errors.ts';
import { IdpKeys } from './idp-keys.ts';
import { SignInGroups } from './signin-groups.ts';
import { authorizationParameters } from './signin-url.ts';

/** A fetch for talking to the identity provider. */
export type IdpFetch = (url: string, init: RequestInit) => Promise<Response>;

export interface OidcClientOptions {
  readonly settings: GatewayConfig['identityProvider'];
  readonly clock: Clock;
  /** Replaces the HTTP client used to talk to the identity provider (discovery, JWKS, token endpoint). */
  readonly fetch?: IdpFetch | undefined;
}

export interface CodeExchangeChecks {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
  /** The max_age sent with the authorization request, if any: auth_time must then be that recent. */
  readonly maxAge?: number | undefined;
}

/**
 * Asks for auth_time in every ID token (OIDC Core 5.5): sign-in frequency
 * policies judge its age, and a provider that does not send it leaves the
 * authentication time unknown, which every such policy treats as too old.
 */
export const AUTH_TIME_CLAIMS_REQUEST = JSON.stringify({ id_token: { auth_time: { essential: true } } });

export interface VerifiedSignIn {
  readonly claims: client.IDToken;
  readonly idToken: string;
  /** Issued when the provider grants offline access; kept only server side. */
  readonly refreshToken?: string | undefined;
  /** Only for asking the groups endpoint on group overage; never kept. */
  readonly accessToken?: string | undefined;
  /** The user's groups, resolved (refresh only: the callback resolves them itself, to tell a groups failure apart). */
  readonly groups?: readonly string[] | undefined;
}

/**
 * The relying party: discovers the identity provider, builds authorization
 * requests and verifies authorization responses with openid-client, which
 * checks the ID token's iss, aud, azp, exp, iat and nonce; its signature is
 * checked with the provider's keys (`keys`), shared by every token the
 * gateway verifies against them.
 */
export class OidcClient {
  readonly #settings: GatewayConfig['identityProvider'];
  readonly #clock: Clock;
  readonly #fetch: IdpFetch;
  readonly #customFetch: client.CustomFetch;
  readonly #dispatcher: Agent | undefined;
  #discovered: client.Configuration | undefined;
  #pending: Promise<client.Configuration> | undefined;
  #failedAt = Number.NEGATIVE_INFINITY;
  /** The provider's signing keys, fetched again at once (rate-limited) when a token names one not seen yet. */
  readonly keys: IdpKeys;
  /** A user's groups from a token: the configured claim, or the groups endpoint on overage (through the same HTTP client). */
  readonly groups: SignInGroups;

  constructor(options: OidcClientOptions) {
    this.#settings = options.settings;
    this.#clock = options.clock;
    if (options.fetch) {
      this.#fetch = options.fetch;
    } else if (options.settings.ca) {
      // Trust the configured bundle in addition to the public roots.
      const dispatcher = new Agent({ connect: { ca: [...rootCertificates, options.settings.ca] } });
      this.#dispatcher = dispatcher;
      // The global RequestInit and undici's describe the same object; only their FormData types differ.
      this.#fetch = (url, init) => undiciFetch(url, { ...(init as UndiciRequestInit), dispatcher });
    } else {
      this.#fetch = (url, init) => fetch(url, init);
    }
    this.#customFetch = (url, init) => this.#fetch(url, init);
    this.keys = new IdpKeys({ jwksUri: () => this.jwksUri(), fetch: this.#fetch, timeoutSeconds: options.settings.timeoutSeconds });
    const { groupsClaim: claim, groupsEndpoint: endpoint, timeoutSeconds } = options.settings;
    this.groups = new SignInGroups({ claim, endpoint, timeoutSeconds, fetch: this.#fetch });
  }

  /** Discovery, done once and shared; retried no more often than IDP_DISCOVERY_RETRY_MS after a failure. */
  async configuration(): Promise<client.Configuration> {
    if (this.#discovered) return this.#discovered;
    if (this.#pending) return this.#pending;
    if (Date.now() - this.#failedAt < IDP_DISCOVERY_RETRY_MS) {
      throw new GatehouseError('ERR_IDP_UNAVAILABLE', 'discovery_failed_recently');
    }
    this.#pending = this.#discover().then(
      (configuration) => {
        this.#discovered = configuration;
        this.#pending = undefined;
        return configuration;
      },
      (error: unknown) => {
        this.#failedAt = Date.now();
        this.#pending = undefined;
        throw new GatehouseError('ERR_IDP_UNAVAILABLE', `discovery_failed:${describe(error)}`, { cause: error });
      },
    );
    return this.#pending;
  }

  /** The HTTP client that talks to the identity provider (trusting its configured CA). */
  get fetch(): IdpFetch {
    return this.#fetch;
  }

  async jwksUri(): Promise<URL> {
    const uri = (await this.configuration()).serverMetadata().jwks_uri;
    if (!uri) throw new GatehouseError('ERR_IDP_UNAVAILABLE', 'no_jwks_uri');
    return new URL(uri);
  }

  /** What a token the provider signs for this client must name: its issuer (from discovery), our client id, the configured algorithm. */
  async tokenChecks(): Promise<{
    readonly issuer: string;
    readonly audience: string;
    readonly algorithms: readonly string[];
    readonly clockToleranceSeconds: number;
  }> {
    const issuer = (await this.configuration()).serverMetadata().issuer;
    return {
      issuer,
      audience: this.#settings.clientId,
      algorithms: [this.#settings.idTokenSigningAlg],
      clockToleranceSeconds: this.#settings.clockToleranceSeconds,
    };
  }

  /**
   * Adds the claims request for auth_time when the provider accepts the claims parameter (sent otherwise, it may refuse
   * the request), and the configured `authorizationParams` under every parameter given here.
   */
  async authorizationUrl(parameters: Record<string, string>): Promise<URL> {
    const configuration = await this.configuration();
    const claims: Record<string, string> = configuration.serverMetadata().claims_parameter_supported === true ? { claims: AUTH_TIME_CLAIMS_REQUEST } : {};
    return client.buildAuthorizationUrl(configuration, authorizationParameters(this.#settings.authorizationParams, { ...claims, ...parameters }));
  }

  /** The scopes the provider says it supports (`scopes_supported`), when it says. */
  async scopesSupported(): Promise<readonly string[] | undefined> {
    return (await this.configuration()).serverMetadata().scopes_supported;
  }

  async endSessionUrl(parameters: Record<string, string>): Promise<URL | undefined> {
    const configuration = await this.configuration();
    if (!configuration.serverMetadata().end_session_endpoint) return undefined;
    return client.buildEndSessionUrl(configuration, parameters);
  }

  /**
   * Exchanges the authorization code and verifies the ID token. The gateway's
   * clock (not the process clock) decides what "now" is, so tests can move it.
   */
  async exchange(callbackUrl: URL, checks: CodeExchangeChecks): Promise<VerifiedSignIn> {
    const discovered = await this.configuration();
    const configuration = this.#configurationNow(discovered);
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(configuration, callbackUrl, {
        pkceCodeVerifier: checks.verifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
        ...(checks.maxAge !== undefined ? { maxAge: checks.maxAge } : {}),
      });
    } catch (error) {
      throw mapExchangeError(error);
    }
    const claims = tokens.claims();
    if (!claims || !tokens.id_token) throw new GatehouseError('ERR_ID_TOKEN_INVALID', 'no_id_token');
    // OIDC Core 3.1.3.7 lets a client skip the ID token's signature when it came over TLS from the
    // token endpoint, and openid-client does. We verify it: a compromised network path or
    // interception proxy must not be able to mint identities.
    await this.keys.verifySignature(tokens.id_token, [this.#settings.idTokenSigningAlg], 'ERR_ID_TOKEN_INVALID');
    // openid-client does not refuse an iat in the future; a token "issued later than now" means the clocks disagree.
    const now = Math.floor(this.#clock() / 1000);
    const tolerance = this.#settings.clockToleranceSeconds;
    if (claims.iat > now + tolerance) throw new GatehouseError('ERR_CLOCK_SKEW', 'iat_in_future');
    if (typeof claims.auth_time === 'number' && claims.auth_time > now + tolerance) {
      throw new GatehouseError('ERR_CLOCK_SKEW', 'auth_time_in_future');
    }
    return { claims, idToken: tokens.id_token, refreshToken: tokens.refresh_token, accessToken: tokens.access_token };
  }

  /**
   * Spends a refresh token for a new ID token (OIDC Core 12): checked as at
   * sign-in, signature included, and naming the same user. The answer may
   * carry a new refresh token (rotation); the old one is then spent.
   */
  async refresh(refreshToken: string, expectedSub: string): Promise<VerifiedSignIn> {
    const configuration = this.#configurationNow(await this.configuration());
    let tokens: Awaited<ReturnType<typeof client.refreshTokenGrant>>;
    try {
      tokens = await client.refreshTokenGrant(configuration, refreshToken);
    } catch (error) {
      throw mapExchangeError(error);
    }
    const claims = tokens.claims();
    if (!claims || !tokens.id_token) throw new GatehouseError('ERR_ID_TOKEN_INVALID', 'no_id_token');
    await this.keys.verifySignature(tokens.id_token, [this.#settings.idTokenSigningAlg], 'ERR_ID_TOKEN_INVALID');
    if (claims.sub !== expectedSub) throw new GatehouseError('ERR_ID_TOKEN_INVALID', 'sub_mismatch');
    // Group overage is judged again on every refresh: the endpoint is asked with the new access token, or the session ends.
    const groups = await this.groups.resolve(claims, tokens.access_token);
    return { claims, idToken: tokens.id_token, refreshToken: tokens.refresh_token, groups };
  }

  async close(): Promise<void> {
    await this.#dispatcher?.close();
  }

  async #discover(): Promise<client.Configuration> {
    return client.discovery(new URL(this.#settings.issuer), this.#settings.clientId, this.#clientMetadata(0), this.#clientAuth(), {
      [client.customFetch]: this.#customFetch,
      timeout: this.#settings.timeoutSeconds,
    });
  }

  #configurationNow(discovered: client.Configuration): client.Configuration {
    const skew = Math.round((this.#clock() - Date.now()) / 1000);
    const configuration = new client.Configuration(discovered.serverMetadata(), this.#settings.clientId, this.#clientMetadata(skew), this.#clientAuth());
    configuration[client.customFetch] = this.#customFetch;
    configuration.timeout = this.#settings.timeoutSeconds;
    return configuration;
  }

  #clientMetadata(skewSeconds: number): Partial<client.ClientMetadata> {
    return {
      ...(this.#settings.clientSecret !== undefined ? { client_secret: this.#settings.clientSecret } : {}),
      id_token_signed_response_alg: this.#settings.idTokenSigningAlg,
      [client.clockSkew]: skewSeconds,
      [client.clockTolerance]: this.#settings.clockToleranceSeconds,
    };
  }

  #clientAuth(): client.ClientAuth {
    return this.#settings.clientSecret !== undefined ? client.ClientSecretBasic(this.#settings.clientSecret) : client.None();
  }
}
