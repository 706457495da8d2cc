import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'jose';
import { Provider, errors } from 'oidc-provider';
import { Agent, fetch as undiciFetch, type RequestInit as UndiciRequestInit } from 'undici';
import type {
  AccessTokenLike,
  ClientMetadata,
  Configuration,
  Grant,
  InteractionDetails,
  KoaContextWithOIDC,
  OIDCContext,
  ResourceServerInfo,
} from 'oidc-provider';
import { createDevCa } from '../dev-ca.ts';
import type { DevCa } from '../dev-ca.ts';
import { createMemoryAdapter } from './memory-adapter.ts';
import { deviceCodeConfirmPage, deviceCodeInputPage, errorPage, loginPage, logoutConfirmPage, messagePage } from './pages.ts';

export interface DevUser {
  login: string;
  password: string;
  sub: string;
  name: string;
  email: string;
  /** What the ID token says in `email_verified` (default true); 'omitted' leaves the claim out. */
  emailVerified?: boolean | 'omitted';
  groups: string[];
  /** true: every sign-in is multi-factor; 'on-request': only when the one-time code is entered; false: never. */
  mfa: boolean | 'on-request';
  roles?: string[];
}

export interface DevClient {
  client_id: string;
  /** Absent: a public client (token_endpoint_auth_method "none"), as a CLI using the device flow is. */
  client_secret?: string;
  redirect_uris: string[];
  post_logout_redirect_uris?: string[];
  /** Where the provider posts logout tokens (OpenID Connect Back-Channel Logout); the feature is on when a client has one. */
  backchannel_logout_uri?: string;
  backchannel_logout_session_required?: boolean;
  grant_types?: string[];
  response_types?: string[];
}

/**
 * An API that may receive JWT access tokens (RFC 8707 resource indicator).
 * Tokens for it are RFC 9068 JWTs signed with the provider's key, carrying the
 * user's `groups` and `roles`.
 */
export interface DevResourceServer {
  /** Space-separated scopes the resource accepts. */
  scope: string;
  /** Token `aud`; defaults to the resource indicator itself. */
  audience?: string;
  accessTokenTtlSeconds?: number;
  /** 'opaque': random strings only the provider can read back (introspection); default 'jwt'. */
  accessTokenFormat?: 'jwt' | 'opaque';
}

export interface StartIdentityProviderOptions {
  users?: DevUser[];
  clients: DevClient[];
  ca?: DevCa;
  host?: string;
  port?: number;
  idTokenTtlSeconds?: number;
  signingKey?: JWK;
  /** Resource indicator → resource server. Without any, only opaque access tokens are issued. */
  resourceServers?: Record<string, DevResourceServer>;
  /**
   * The CA the provider trusts when it calls clients (back-channel logout);
   * every host name it calls then resolves to 127.0.0.1. Without it, the
   * provider's own fetch (which refuses loopback addresses) is used.
   */
  clientCallbackCa?: string;
  /** RFC 7662 token introspection for confidential clients (off by default). */
  introspection?: boolean;
  /**
   * Issue refresh tokens to code-flow clients allowed the grant without a consent
   * prompt, as hosted providers do for `offline_access` (off by default: the spec's rule).
   */
  refreshTokens?: boolean;
  /** Every refresh returns a new refresh token and spends the old one; the old one sent again revokes the grant (reuse detection). */
  rotateRefreshTokens?: boolean;
  /**
   * Claims beyond the defaults, to mimic a particular provider's token shapes
   * (their names go in the ID token with the `openid` scope; values per user).
   */
  extraClaims?: { readonly names: readonly string[]; readonly values: (user: DevUser) => Record<string, unknown> };
  /** Replaces the `groups` claim's value per user (e.g. to leave it out, as a provider reporting group overage does). */
  groupsClaim?: (user: DevUser) => Record<string, unknown>;
  /** The `acr` values a sign-in reports (e.g. Keycloak's levels `1` and `2`); default ACR_PASSWORD and ACR_MFA. */
  acr?: { readonly password: string; readonly mfa: string };
  /** Authorization request parameters the provider recognises beyond the standard ones (e.g. Google's `access_type`); others are dropped. */
  extraParams?: readonly string[];
}

export interface DevIdentityProvider {
  issuer: string;
  caPem: string;
  /** The private key signing now (it changes with rotateSigningKey). */
  readonly signingKey: JWK;
  users: DevUser[];
  /** Abrupt rotation: from now on only the new key signs and only it is published. Sessions at the provider survive. */
  rotateSigningKey(key?: JWK): Promise<JWK>;
  /** How many token requests of this grant type (e.g. "refresh_token") the provider has granted. */
  grantCount(grantType: string): number;
  /** The parameters of each authorization request the provider answered with a code, as it read them (unrecognised ones dropped). */
  readonly authorizations: readonly Readonly<Record<string, unknown>>[];
  close(): Promise<void>;
}

export const ACR_PASSWORD = 'urn:gatehouse:pwd';
export const ACR_MFA = 'urn:gatehouse:mfa';
/** The one-time code every 'on-request' user's (pretend) authenticator shows. */
export const DEV_ONE_TIME_CODE = '123456';

export const DEFAULT_DEV_USERS: DevUser[] = [
  {
    login: 'alice',
    password: 'alice-password',
    sub: 'user-alice',
    name: 'Alice Admin',
    email: 'alice@gatehouse.test',
    groups: ['admins', 'staff'],
    mfa: true,
    roles: ['admin'],
  },
  {
    login: 'bob',
    password: 'bob-password',
    sub: 'user-bob',
    name: 'Bob Staff',
    email: 'bob@gatehouse.test',
    groups: ['staff'],
    mfa: false,
  },
  {
    login: 'dana',
    password: 'dana-password',
    sub: 'user-dana',
    name: 'Dana Developer',
    email: 'dana@gatehouse.test',
    groups: ['staff', 'developers'],
    mfa: 'on-request',
  },
  {
    login: 'mallory',
    password: 'mallory-password',
    sub: 'user-mallory',
    name: 'Mallory Outsider',
    email: 'mallory@gatehouse.test',
    groups: [],
    mfa: false,
  },
];

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const HOUR = 60 * 60;

function cloneUser(user: DevUser): DevUser {
  return { ...user, groups: [...user.groups], ...(user.roles ? { roles: [...user.roles] } : {}) };
}

// Hashing first gives equal-length buffers, so the comparison leaks neither the
// password nor its length through timing.
function passwordMatches(expected: string, given: string): boolean {
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}

function defaultAlgFor(key: JWK): string {
  if (key.alg) return key.alg;
  if (key.kty === 'RSA') return 'RS256';
  if (key.kty === 'EC' && key.crv === 'P-256') return 'ES256';
  throw new TypeError('signingKey needs an "alg" unless it is an RSA or P-256 key');
}

async function prepareSigningKey(given: JWK | undefined): Promise<JWK> {
  let key: JWK;
  if (given) {
    if (given.d === undefined) throw new TypeError('signingKey must be a private JWK');
    key = { ...given };
  } else {
    const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
    key = await exportJWK(privateKey);
  }
  key.alg = defaultAlgFor(key);
  key.use = 'sig';
  key.kid ??= await calculateJwkThumbprint(key);
  return key;
}

function toClientMetadata(client: DevClient): ClientMetadata {
  const metadata: ClientMetadata = {
    client_id: client.client_id,
    ...(client.client_secret !== undefined ? { client_secret: client.client_secret } : { token_endpoint_auth_method: 'none' }),
    redirect_uris: [...client.redirect_uris],
    grant_types: client.grant_types ? [...client.grant_types] : ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT],
    response_types: client.response_types ? [...client.response_types] : ['code'],
  };
  if (client.post_logout_redirect_uris) {
    metadata.post_logout_redirect_uris = [...client.post_logout_redirect_uris];
  }
  if (client.backchannel_logout_uri !== undefined) {
    metadata.backchannel_logout_uri = client.backchannel_logout_uri;
    metadata.backchannel_logout_session_required = client.backchannel_logout_session_required ?? true;
  }
  return metadata;
}

/**
 * Grants whatever a registered client asks for, so that no consent screen
 * interrupts the code flow: every dev client is treated as first-party.
 */
async function autoGrant(ctx: KoaContextWithOIDC): Promise<Grant | undefined> {
  const { oidc } = ctx;
  const client = oidc.client;
  const accountId = oidc.session?.accountId;
  if (!client || accountId === undefined) return undefined;

  const existingId = oidc.result?.consent?.grantId ?? oidc.session?.grantIdFor(client.clientId);
  let grant = existingId === undefined ? undefined : await oidc.provider.Grant.find(existingId);
  if (grant && (grant.accountId !== accountId || grant.clientId !== client.clientId)) grant = undefined;
  grant ??= new oidc.provider.Grant({ accountId, clientId: client.clientId });

  const scopes = [...oidc.requestParamOIDCScopes];
  if (scopes.length > 0) grant.addOIDCScope(scopes.join(' '));
  const claims = [...oidc.requestParamClaims];
  if (claims.length > 0) grant.addOIDCClaims(claims);
  for (const [indicator, resourceServer] of Object.entries(oidc.resourceServers)) {
    const granted = [...oidc.requestParamScopes].filter((scope) => resourceServer.scopes.has(scope));
    if (granted.length > 0) grant.addResourceScope(indicator, granted.join(' '));
  }
  await grant.save();
  return grant;
}

async function grantMissing(provider: Provider, details: InteractionDetails): Promise<string> {
  const accountId = details.session?.accountId;
  const clientId = details.params.client_id;
  let grant = details.grantId === undefined ? undefined : await provider.Grant.find(details.grantId);
  grant ??= new provider.Grant({ accountId, clientId });
  const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = details.prompt.details;
  if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
  if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

function sendHtml(ctx: KoaContextWithOIDC, html: string): void {
  ctx.type = 'html';
  ctx.body = html;
}

function noStore(_req: Request, res: Response, next: NextFunction): void {
  res.set('Cache-Control', 'no-store');
  next();
}

function formField(body: unknown, name: string): string {
  if (typeof body !== 'object' || body === null) return '';
  const value = (body as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : '';
}

function buildInteractionApp(provider: Provider, users: DevUser[], acr = { password: ACR_PASSWORD, mfa: ACR_MFA }): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // Only the interaction routes parse bodies: oidc-provider parses its own and
  // complains about bodies parsed upstream.
  const parseForm = express.urlencoded({ extended: false, limit: '16kb' });

  async function clientName(clientId: string | undefined): Promise<string> {
    if (clientId === undefined) return 'an application';
    const client = await provider.Client.find(clientId);
    return client?.clientName ?? clientId;
  }

  async function currentInteraction(req: Request, res: Response): Promise<InteractionDetails | undefined> {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== req.params['uid']) {
      res.status(400).type('html').send(messagePage('Sign-in expired', 'This sign-in page is out of date. Start again from the application.'));
      return undefined;
    }
    return details;
  }

  app.get('/interaction/:uid', noStore, async (req, res) => {
    const details = await currentInteraction(req, res);
    if (!details) return;
    switch (details.prompt.name) {
      case 'login':
        res.type('html').send(
          loginPage({
            uid: details.uid,
            clientName: await clientName(details.params.client_id),
            askForCode: typeof details.params.acr_values === 'string' && details.params.acr_values.split(' ').includes(ACR_MFA),
          }),
        );
        return;
      case 'consent': {
        // Reached only for requests autoGrant cannot settle up front (native
        // clients, authorization_details); grant without a click as well.
        const grantId = await grantMissing(provider, details);
        await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
        return;
      }
      default:
        res
          .status(400)
          .type('html')
          .send(messagePage('Unsupported step', `The sign-in step "${details.prompt.name}" is not supported here.`));
    }
  });

  app.post('/interaction/:uid/login', noStore, parseForm, async (req, res) => {
    const details = await currentInteraction(req, res);
    if (!details) return;
    if (details.prompt.name !== 'login') {
      res.status(400).type('html').send(messagePage('Unexpected sign-in', 'This sign-in step does not expect a password.'));
      return;
    }
    const login = formField(req.body, 'login').trim();
    const password = formField(req.body, 'password');
    const user = users.find((candidate) => candidate.login === login);
    // Compare even for unknown logins so both failures cost the same time.
    const passwordOk = passwordMatches(user?.password ?? randomBytes(16).toString('hex'), password);
    if (!user || !passwordOk) {
      res
        .status(401)
        .type('html')
        .send(
          loginPage({
            uid: details.uid,
            clientName: await clientName(details.params.client_id),
            login,
            error: 'Wrong login or password.',
          }),
        );
      return;
    }
    const code = formField(req.body, 'otp').trim();
    if (user.mfa === 'on-request' && code !== '' && code !== DEV_ONE_TIME_CODE) {
      res
        .status(401)
        .type('html')
        .send(
          loginPage({
            uid: details.uid,
            clientName: await clientName(details.params.client_id),
            login,
            error: 'Wrong one-time code.',
            askForCode: true,
          }),
        );
      return;
    }
    const multiFactor = user.mfa === true || (user.mfa === 'on-request' && code === DEV_ONE_TIME_CODE);
    await provider.interactionFinished(
      req,
      res,
      {
        login: {
          accountId: user.sub,
          amr: multiFactor ? (user.mfa === true ? ['pwd', 'mfa'] : ['pwd', 'otp', 'mfa']) : ['pwd'],
          acr: multiFactor ? acr.mfa : acr.password,
          remember: true,
        },
      },
      { mergeWithLastSubmission: false },
    );
  });

  app.get('/interaction/:uid/abort', noStore, async (req, res) => {
    const details = await currentInteraction(req, res);
    if (!details) return;
    await provider.interactionFinished(
      req,
      res,
      {
        error: 'access_denied',
        error_description: 'End-User aborted interaction',
      },
      { mergeWithLastSubmission: false },
    );
  });

  app.use(provider.callback());

  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const oidcError = err instanceof errors.OIDCProviderError ? err : undefined;
    if (oidcError) {
      res
        .status(oidcError.status)
        .type('html')
        .send(messagePage('Sign-in failed', oidcError.error_description ?? oidcError.error));
      return;
    }
    console.error('dev identity provider: interaction error:', err instanceof Error ? err.message : String(err));
    res.status(500).type('html').send(messagePage('Sign-in failed', 'Unexpected error.'));
  });

  return app;
}

function buildConfiguration(opts: {
  users: DevUser[];
  clients: DevClient[];
  signingKey: JWK;
  alg: string;
  idTokenTtlSeconds: number;
  resourceServers: Record<string, DevResourceServer>;
  adapter: ReturnType<typeof createMemoryAdapter>;
  cookieKeys: string[];
  fetch: Configuration['fetch'];
  introspection: boolean;
  refreshTokens: boolean;
  rotateRefreshTokens: boolean;
  extraClaims: StartIdentityProviderOptions['extraClaims'];
  groupsClaim: StartIdentityProviderOptions['groupsClaim'];
}): Configuration {
  const usersBySub = new Map(opts.users.map((user) => [user.sub, user]));
  const { resourceServers, alg } = opts;
  const hasResourceServers = Object.keys(resourceServers).length > 0;

  return {
    adapter: opts.adapter,
    clients: opts.clients.map(toClientMetadata),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
    clientDefaults: { id_token_signed_response_alg: alg },
    jwks: { keys: [opts.signingKey] },
    cookies: { keys: opts.cookieKeys },
    // The implicit id_token response only for a client registered for it (express-openid-connect's default, in the benchmark).
    responseTypes: opts.clients.some((client) => client.response_types?.includes('id_token')) ? ['code', 'id_token'] : ['code'],
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    acrValues: [ACR_PASSWORD, ACR_MFA],
    claims: {
      acr: null,
      amr: null,
      auth_time: null,
      iss: null,
      sid: null,
      // oidc-provider puts acr/amr/auth_time in an ID token only when the
      // request's claims parameter names them; the gateway's step-up policy
      // needs them every time.
      openid: ['sub', 'acr', 'amr', 'auth_time', ...(opts.extraClaims?.names ?? [])],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
      groups: ['groups', 'roles'],
    },
    // With the default (true), scope-requested claims go only to userinfo
    // whenever an access token is issued; the gateway reads them from the ID token.
    conformIdTokenClaims: false,
    findAccount(_ctx, sub) {
      const user = usersBySub.get(sub);
      if (!user) return Promise.resolve(undefined);
      return Promise.resolve({
        accountId: user.sub,
        claims: () => ({
          sub: user.sub,
          name: user.name,
          preferred_username: user.login,
          email: user.email,
          ...(user.emailVerified === 'omitted' ? {} : { email_verified: user.emailVerified ?? true }),
          ...(opts.groupsClaim ? opts.groupsClaim(user) : { groups: [...user.groups] }),
          roles: [...(user.roles ?? [])],
          ...(opts.extraClaims?.values(user) ?? {}),
        }),
      });
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // Browser apps never call this provider cross-origin; the gateway does the OIDC work.
    clientBasedCORS: () => false,
    loadExistingGrant: autoGrant,
    ...(opts.refreshTokens
      ? { issueRefreshToken: (_ctx: unknown, client: { grantTypeAllowed(type: string): boolean }) => Promise.resolve(client.grantTypeAllowed('refresh_token')) }
      : {}),
    ...(opts.rotateRefreshTokens ? { rotateRefreshToken: true } : {}),
    extraTokenClaims(_ctx, token: AccessTokenLike) {
      if (!token.resourceServer || token.accountId === undefined) return Promise.resolve(undefined);
      const user = usersBySub.get(token.accountId);
      if (!user) return Promise.resolve(undefined);
      return Promise.resolve({ groups: [...user.groups], roles: [...(user.roles ?? [])] });
    },
    renderError(ctx, out) {
      sendHtml(ctx, errorPage(out));
      return Promise.resolve();
    },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? HOUR,
      AuthorizationCode: 60,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 10 * 60,
      DeviceCode: 10 * 60,
      Grant: 8 * HOUR,
      IdToken: opts.idTokenTtlSeconds,
      Interaction: HOUR,
      RefreshToken: 8 * HOUR,
      Session: 8 * HOUR,
    },
    features: {
      devInteractions: { enabled: false },
      // Confidential clients (a gateway with its secret) may introspect; a public CLI may not.
      introspection: { enabled: opts.introspection, allowedPolicy: (_ctx, client) => Promise.resolve(client.clientAuthMethod !== 'none') },
      claimsParameter: { enabled: true },
      backchannelLogout: { enabled: opts.clients.some((client) => client.backchannel_logout_uri !== undefined) },
      // Machine clients (API callers with their own identity): on when a client is registered for the grant.
      clientCredentials: { enabled: opts.clients.some((client) => client.grant_types?.includes('client_credentials') === true) },
      revocation: {
        enabled: true,
        allowedPolicy: (_ctx, client, token) => Promise.resolve(token.clientId === client.clientId),
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource(ctx, form) {
          sendHtml(ctx, logoutConfirmPage(form, ctx.host));
          return Promise.resolve();
        },
        postLogoutSuccessSource(ctx) {
          sendHtml(ctx, messagePage('Signed out', 'You have been signed out.'));
          return Promise.resolve();
        },
      },
      deviceFlow: {
        enabled: true,
        userCodeInputSource(ctx, form, _out, err) {
          let error: string | undefined;
          if (err && (err.userCode !== undefined || err.name === 'NoCodeError')) error = 'That code is not valid. Try again.';
          else if (err?.name === 'AbortedError') error = 'The sign-in was aborted.';
          else if (err) error = 'The code could not be processed. Try again.';
          sendHtml(ctx, deviceCodeInputPage(form, error));
          return Promise.resolve();
        },
        userCodeConfirmSource(ctx, form, client, _deviceInfo, userCode) {
          sendHtml(ctx, deviceCodeConfirmPage(form, client.clientName ?? client.clientId, userCode));
          return Promise.resolve();
        },
        successSource(ctx) {
          sendHtml(ctx, messagePage('Device connected', 'Sign-in complete. You can close this page and return to your device.'));
          return Promise.resolve();
        },
      },
      resourceIndicators: {
        enabled: hasResourceServers,
        defaultResource: (_ctx, _client, oneOf) => Promise.resolve(oneOf),
        getResourceServerInfo(_ctx, indicator): Promise<ResourceServerInfo> {
          const resourceServer = resourceServers[indicator];
          if (!resourceServer) return Promise.reject(new errors.InvalidTarget());
          return Promise.resolve({
            scope: resourceServer.scope,
            audience: resourceServer.audience ?? indicator,
            accessTokenTTL: resourceServer.accessTokenTtlSeconds ?? HOUR,
            accessTokenFormat: resourceServer.accessTokenFormat ?? 'jwt',
            jwt: { sign: { alg } },
          });
        },
        // Lets a device or code exchange that asked for one resource get a token
        // for it without repeating `resource` at the token endpoint.
        useGrantedResource: () => Promise.resolve(true),
      },
    },
  };
}

export async function startIdentityProvider(opts: StartIdentityProviderOptions): Promise<DevIdentityProvider> {
  const users = (opts.users ?? DEFAULT_DEV_USERS).map(cloneUser);
  for (const field of ['login', 'sub'] as const) {
    const values = users.map((user) => user[field]);
    if (new Set(values).size !== values.length) throw new TypeError(`dev users must have unique ${field} values`);
  }
  const host = opts.host ?? '127.0.0.1';
  const ca = opts.ca ?? createDevCa({ commonName: 'Gatehouse Dev Identity Provider CA' });
  const tlsCert = ca.issueServerCertificate([...new Set(['127.0.0.1', 'localhost', host])]);
  let signingKey = await prepareSigningKey(opts.signingKey);

  const server = createServer({ cert: tlsCert.certPem, key: tlsCert.keyPem });
  // Raw TCP sockets, so that close() also ends connections still in the TLS
  // handshake, which closeAllConnections() does not know about yet.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
    });
    return closed;
  };

  try {
    const { port } = server.address() as AddressInfo;
    const issuer = `https://${host}:${port}`;
    // Kept across key rotations, so that sessions at the provider outlive them.
    const adapter = createMemoryAdapter();
    const cookieKeys = [randomBytes(32).toString('base64url'), randomBytes(32).toString('base64url')];
    const fetch = opts.clientCallbackCa === undefined ? undefined : loopbackFetch(opts.clientCallbackCa);
    const grants = new Map<string, number>();
    const authorizations: Record<string, unknown>[] = [];
    const build = (key: JWK): express.Express => {
      const provider = new Provider(issuer, {
        ...buildConfiguration({
          users,
          clients: opts.clients,
          signingKey: key,
          alg: key.alg ?? 'RS256',
          idTokenTtlSeconds: opts.idTokenTtlSeconds ?? HOUR,
          resourceServers: opts.resourceServers ?? {},
          adapter,
          cookieKeys,
          fetch: fetch?.fetch,
          introspection: opts.introspection ?? false,
          refreshTokens: opts.refreshTokens ?? false,
          rotateRefreshTokens: opts.rotateRefreshTokens ?? false,
          extraClaims: opts.extraClaims,
          groupsClaim: opts.groupsClaim,
        }),
        extraParams: [...(opts.extraParams ?? [])],
      });
      provider.proxy = false;
      // By default only back-channel-logout clients get `sid` in their ID tokens;
      // the gateway needs it to tie its session to the provider's.
      Object.defineProperty(provider.Client.prototype, 'includeSid', { value: () => true });
      // oidc-provider never answers slow_down and omits `interval`, which makes
      // RFC 8628 clients wait the default 5 s between polls.
      provider.use(async (ctx, next) => {
        await next();
        const oidc = ctx.oidc as OIDCContext | undefined;
        if (oidc?.route === 'device_authorization' && ctx.status === 200 && typeof ctx.body === 'object' && ctx.body !== null) {
          ctx.body = { ...ctx.body, interval: 1 };
        }
      });
      provider.on('grant.success', (ctx: unknown) => {
        const grantType = (ctx as KoaContextWithOIDC).oidc?.params?.['grant_type'];
        if (typeof grantType === 'string') grants.set(grantType, (grants.get(grantType) ?? 0) + 1);
      });
      provider.on('authorization.success', (ctx: unknown) => {
        authorizations.push({ ...(ctx as KoaContextWithOIDC).oidc?.params });
      });
      provider.on('server_error', (_ctx, error) => {
        console.error('dev identity provider: server error:', error.message);
      });
      provider.on('backchannel.error', (_ctx, error) => {
        console.error('dev identity provider: back-channel logout failed:', error.message);
      });
      return buildInteractionApp(provider, users, opts.acr);
    };
    let handler = build(signingKey);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      handler(req, res);
    });
    const stopFetch = fetch?.close;
    const closeAll = async (): Promise<void> => {
      await close();
      await stopFetch?.();
    };

    return {
      issuer,
      caPem: ca.certPem,
      get signingKey() {
        return { ...signingKey };
      },
      users,
      async rotateSigningKey(key) {
        signingKey = await prepareSigningKey(key);
        handler = build(signingKey);
        return { ...signingKey };
      },
      grantCount: (grantType) => grants.get(grantType) ?? 0,
      authorizations,
      close: closeAll,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A fetch for the provider's calls to clients: trusts `ca`, and every host name resolves to 127.0.0.1. */
function loopbackFetch(ca: string): { fetch: NonNullable<Configuration['fetch']>; close: () => Promise<void> } {
  const dispatcher = new Agent({
    connect: {
      ca,
      lookup: (_hostname, options, callback) => {
        if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
        else callback(null, '127.0.0.1', 4);
      },
    },
  });
  return {
    // oidc-provider sets its own dispatcher, which refuses loopback addresses: this one replaces it.
    fetch: (url, options) => undiciFetch(url, { ...(options as UndiciRequestInit), dispatcher }),
    close: () => dispatcher.close(),
  };
}
