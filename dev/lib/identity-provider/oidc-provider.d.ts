// oidc-provider 9 ships no type declarations. This describes only the surface
// the development identity provider uses; widen it here when more is needed.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';
  import type { JWK } from 'jose';

  export type UnknownObject = Record<string, unknown>;

  export interface ClientMetadata {
    client_id: string;
    client_secret?: string;
    redirect_uris?: string[];
    post_logout_redirect_uris?: string[];
    backchannel_logout_uri?: string;
    backchannel_logout_session_required?: boolean;
    grant_types?: string[];
    response_types?: string[];
    token_endpoint_auth_method?: string;
    id_token_signed_response_alg?: string;
    application_type?: 'web' | 'native';
    client_name?: string;
    [key: string]: unknown;
  }

  export interface Client {
    readonly clientId: string;
    readonly clientName?: string;
    readonly clientAuthMethod: string;
    readonly applicationType: string;
    readonly redirectUris: string[];
  }

  export interface ResourceServer {
    readonly audience?: string;
    readonly scope?: string;
    readonly scopes: Set<string>;
    readonly accessTokenTTL?: number;
    readonly accessTokenFormat?: 'opaque' | 'jwt';
    identifier(): string;
  }

  export interface ResourceServerInfo {
    scope: string;
    audience?: string;
    accessTokenTTL?: number;
    accessTokenFormat?: 'opaque' | 'jwt';
    jwt?: { sign?: { alg?: string; kid?: string } | false };
  }

  export interface Grant {
    readonly jti: string;
    accountId?: string;
    clientId?: string;
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(resource: string, scope: string): void;
    save(ttl?: number): Promise<string>;
  }

  export interface GrantStatic {
    new (properties: { accountId?: string; clientId?: string }): Grant;
    find(id: string): Promise<Grant | undefined>;
  }

  export interface Session {
    readonly accountId?: string;
    grantIdFor(clientId: string): string | undefined;
  }

  export interface InteractionResults {
    login?: { accountId: string; acr?: string; amr?: string[]; remember?: boolean; ts?: number };
    consent?: { grantId?: string };
    error?: string;
    error_description?: string;
    [prompt: string]: unknown;
  }

  export interface PromptDetails {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
    [key: string]: unknown;
  }

  export interface InteractionDetails {
    readonly uid: string;
    readonly prompt: { name: string; reasons: string[]; details: PromptDetails };
    readonly params: { client_id?: string; scope?: string; [key: string]: unknown };
    readonly session?: { accountId: string; uid: string; cookie: string };
    readonly grantId?: string;
    readonly returnTo: string;
    readonly result?: InteractionResults;
  }

  export interface OIDCContext {
    readonly route: string;
    readonly uid: string;
    readonly provider: Provider;
    readonly client?: Client;
    readonly session?: Session;
    readonly account?: { accountId: string };
    readonly result?: InteractionResults;
    readonly params?: UnknownObject;
    readonly requestParamScopes: Set<string>;
    readonly requestParamOIDCScopes: Set<string>;
    readonly requestParamClaims: Set<string>;
    readonly resourceServers: Record<string, ResourceServer>;
  }

  /** The Koa context oidc-provider hands to configuration helpers. */
  export interface KoaContextWithOIDC {
    oidc: OIDCContext;
    body: unknown;
    type: string;
    status: number;
    readonly host: string;
    readonly method: string;
    readonly path: string;
    get(field: string): string;
  }

  export interface AccessTokenLike {
    readonly kind: string;
    readonly accountId?: string;
    readonly clientId?: string;
    readonly resourceServer?: ResourceServer;
  }

  export interface Account {
    accountId: string;
    claims(use: string, scope: string, claims: UnknownObject, rejected: string[]): Promise<UnknownObject> | UnknownObject;
  }

  export interface AdapterPayload {
    jti?: string;
    uid?: string;
    grantId?: string;
    userCode?: string;
    consumed?: number;
    [key: string]: unknown;
  }

  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  export type TtlFunction = (ctx: KoaContextWithOIDC | undefined, token: AccessTokenLike, client: Client) => number;

  export interface CookieOptions {
    httpOnly?: boolean;
    sameSite?: 'lax' | 'strict' | 'none';
    secure?: boolean;
    path?: string;
  }

  export type HtmlSource = (ctx: KoaContextWithOIDC, form: string, ...rest: unknown[]) => Promise<void>;

  export interface Configuration {
    adapter?: (model: string) => Adapter;
    clients?: ClientMetadata[];
    clientDefaults?: Partial<ClientMetadata>;
    findAccount?: (ctx: KoaContextWithOIDC, sub: string, token?: unknown) => Promise<Account | undefined>;
    interactions?: { url?: (ctx: KoaContextWithOIDC, interaction: { uid: string }) => string | Promise<string> };
    cookies?: { keys?: string[]; long?: CookieOptions; short?: CookieOptions; names?: Record<string, string> };
    claims?: Record<string, null | string[]>;
    scopes?: string[];
    acrValues?: string[];
    conformIdTokenClaims?: boolean;
    clientBasedCORS?: (ctx: KoaContextWithOIDC, origin: string, client: Client) => boolean;
    responseTypes?: string[];
    /** Authorization request parameters recognised beyond the standard ones (others are dropped), in `ctx.oidc.params`. */
    extraParams?: string[];
    pkce?: { required?: (ctx: KoaContextWithOIDC, client: Client) => boolean };
    jwks?: { keys: JWK[] };
    ttl?: Record<string, number | TtlFunction>;
    loadExistingGrant?: (ctx: KoaContextWithOIDC) => Promise<Grant | undefined>;
    extraTokenClaims?: (ctx: KoaContextWithOIDC, token: AccessTokenLike) => Promise<UnknownObject | undefined>;
    renderError?: (ctx: KoaContextWithOIDC, out: Record<string, string>, error: Error) => Promise<void>;
    /** Every outgoing request (back-channel logout among them); `options` carries oidc-provider's own dispatcher. */
    fetch?: (url: string, options: RequestInit) => Promise<Response>;
    features?: {
      backchannelLogout?: { enabled: boolean };
      devInteractions?: { enabled: boolean };
      deviceFlow?: {
        enabled: boolean;
        charset?: 'base-20' | 'digits';
        mask?: string;
        userCodeInputSource?: (
          ctx: KoaContextWithOIDC,
          form: string,
          out: Record<string, string> | undefined,
          err: (Error & { userCode?: string }) | undefined,
        ) => Promise<void>;
        userCodeConfirmSource?: (ctx: KoaContextWithOIDC, form: string, client: Client, deviceInfo: UnknownObject, userCode: string) => Promise<void>;
        successSource?: (ctx: KoaContextWithOIDC) => Promise<void>;
      };
      revocation?: { enabled: boolean; allowedPolicy?: (ctx: KoaContextWithOIDC, client: Client, token: { clientId?: string }) => Promise<boolean> };
      introspection?: { enabled: boolean; allowedPolicy?: (ctx: KoaContextWithOIDC, client: Client, token: { clientId?: string }) => Promise<boolean> };
      clientCredentials?: { enabled: boolean };
      userinfo?: { enabled: boolean };
      rpInitiatedLogout?: {
        enabled: boolean;
        logoutSource?: (ctx: KoaContextWithOIDC, form: string) => Promise<void>;
        postLogoutSuccessSource?: (ctx: KoaContextWithOIDC) => Promise<void>;
      };
      resourceIndicators?: {
        enabled: boolean;
        defaultResource?: (ctx: KoaContextWithOIDC, client: Client, oneOf?: string[]) => Promise<string | string[] | undefined>;
        getResourceServerInfo?: (ctx: KoaContextWithOIDC, resourceIndicator: string, client: Client) => Promise<ResourceServerInfo>;
        useGrantedResource?: (ctx: KoaContextWithOIDC, model: unknown) => Promise<boolean>;
      };
      claimsParameter?: { enabled: boolean };
    };
  }

  export type KoaMiddleware = (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>;

  export class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    proxy: boolean;
    readonly Grant: GrantStatic;
    readonly Client: { find(id: string): Promise<Client | undefined>; readonly prototype: { includeSid(): boolean } };
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    use(middleware: KoaMiddleware): this;
    on(event: 'server_error' | 'backchannel.error', listener: (ctx: KoaContextWithOIDC, error: Error) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionFinished(req: IncomingMessage, res: ServerResponse, result: InteractionResults, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  }

  export interface OIDCProviderError extends Error {
    readonly status: number;
    readonly statusCode: number;
    readonly error: string;
    readonly error_description?: string;
  }

  export type OIDCProviderErrorClass = new (description?: string) => OIDCProviderError;

  export const errors: {
    readonly OIDCProviderError: OIDCProviderErrorClass;
    readonly InvalidTarget: OIDCProviderErrorClass;
    readonly InvalidRequest: OIDCProviderErrorClass;
    readonly SessionNotFound: OIDCProviderErrorClass;
  };

  export default Provider;
}
