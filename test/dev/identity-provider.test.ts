import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { createLocalJWKSet, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import type { JSONWebKeySet, JWK } from 'jose';
import { createDevCa } from '../../dev/lib/dev-ca.ts';
import { ACR_MFA, ACR_PASSWORD, startIdentityProvider } from '../../dev/lib/identity-provider/index.ts';
import type { DevIdentityProvider } from '../../dev/lib/identity-provider/index.ts';
import { BrowserClient, createCaFetch, parseForms } from '../../dev/lib/browser-client.ts';

const WIKI = {
  client_id: 'wiki',
  client_secret: 'wiki-secret-0123456789abcdef0123456789',
  redirect_uri: 'https://wiki.gatehouse.test/.gatehouse/callback',
  post_logout_redirect_uri: 'https://wiki.gatehouse.test/.gatehouse/signed-out',
};
const CLI = { client_id: 'gatehouse-connector', client_secret: 'connector-secret-0123456789abcdef0123' };
const CONNECTOR_API = 'https://gatehouse.test/connectors';
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const ID_TOKEN_TTL = 600;

const atWiki = (url: URL): boolean => url.hostname === 'wiki.gatehouse.test';

function publicPart(jwk: JWK): JWK {
  const { kty, n, e, crv, x, y, kid, alg } = jwk;
  return Object.fromEntries(Object.entries({ kty, n, e, crv, x, y, kid, alg }).filter(([, value]) => value !== undefined));
}

describe('dev identity provider', function () {
  let idp: DevIdentityProvider;
  let caFetch: ReturnType<typeof createCaFetch>;
  let wiki: oidc.Configuration;
  let cli: oidc.Configuration;
  const browsers: BrowserClient[] = [];

  function browser(): BrowserClient {
    const client = new BrowserClient({ ca: idp.caPem });
    browsers.push(client);
    return client;
  }

  interface AuthorizationRequest {
    url: URL;
    verifier: string;
    nonce: string;
    state: string;
  }

  async function authorizationRequest(extra: Record<string, string> = {}): Promise<AuthorizationRequest> {
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(wiki, {
      redirect_uri: WIKI.redirect_uri,
      scope: 'openid profile email groups',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
      state,
      ...extra,
    });
    return { url, verifier, nonce, state };
  }

  async function codeFlow(client: BrowserClient, login: string, password: string) {
    const request = await authorizationRequest();
    const { chain } = await client.signIn(request.url.href, login, password, { stopAt: atWiki });
    const callback = new URL(chain.at(-1) ?? '');
    assert.equal(`${callback.origin}${callback.pathname}`, WIKI.redirect_uri, `sign-in did not come back to the client: ${chain.join(' -> ')}`);
    return oidc.authorizationCodeGrant(wiki, callback, {
      pkceCodeVerifier: request.verifier,
      expectedNonce: request.nonce,
      expectedState: request.state,
    });
  }

  before(async function () {
    const ca = createDevCa();
    idp = await startIdentityProvider({
      ca,
      idTokenTtlSeconds: ID_TOKEN_TTL,
      clients: [
        {
          client_id: WIKI.client_id,
          client_secret: WIKI.client_secret,
          redirect_uris: [WIKI.redirect_uri],
          post_logout_redirect_uris: [WIKI.post_logout_redirect_uri],
        },
        {
          client_id: CLI.client_id,
          client_secret: CLI.client_secret,
          redirect_uris: [],
          grant_types: [DEVICE_CODE_GRANT],
          response_types: [],
        },
      ],
      resourceServers: { [CONNECTOR_API]: { scope: 'connectors:register' } },
    });
    caFetch = createCaFetch({ ca: idp.caPem });
    const options = { [oidc.customFetch]: caFetch.fetch };
    wiki = await oidc.discovery(new URL(idp.issuer), WIKI.client_id, WIKI.client_secret, undefined, options);
    cli = await oidc.discovery(new URL(idp.issuer), CLI.client_id, CLI.client_secret, undefined, options);
  });

  after(async function () {
    await Promise.all(browsers.map((client) => client.close()));
    await caFetch?.close();
    await idp?.close();
  });

  it('serves its discovery document over HTTPS, trusted through caPem only', async function () {
    assert.match(idp.issuer, /^https:\/\/127\.0\.0\.1:\d+$/);
    const response = await caFetch.fetch(`${idp.issuer}/.well-known/openid-configuration`);
    assert.equal(response.status, 200);
    const discovery = (await response.json()) as Record<string, unknown>;
    assert.equal(discovery['issuer'], idp.issuer);
    assert.deepEqual(discovery['response_types_supported'], ['code']);
    assert.deepEqual(discovery['code_challenge_methods_supported'], ['S256']);
    for (const endpoint of [
      'authorization_endpoint',
      'token_endpoint',
      'jwks_uri',
      'end_session_endpoint',
      'device_authorization_endpoint',
      'revocation_endpoint',
    ]) {
      assert.match(String(discovery[endpoint]), new RegExp(`^${idp.issuer}/`), endpoint);
    }
    const claims = discovery['claims_supported'] as string[];
    for (const claim of ['sub', 'name', 'email', 'groups', 'roles', 'amr', 'acr', 'auth_time', 'sid']) {
      assert.ok(claims.includes(claim), `claims_supported lacks ${claim}`);
    }
    assert.deepEqual(discovery['acr_values_supported'], [ACR_PASSWORD, ACR_MFA]);

    const untrusting = new BrowserClient();
    try {
      await assert.rejects(untrusting.request(`${idp.issuer}/.well-known/openid-configuration`), /certificate/i);
    } finally {
      await untrusting.close();
    }
  });

  it('names its issuer after the host option, with a certificate for that name', async function () {
    const other = await startIdentityProvider({ host: 'idp.gatehouse.test', clients: [] });
    const client = new BrowserClient({ ca: other.caPem });
    try {
      assert.match(other.issuer, /^https:\/\/idp\.gatehouse\.test:\d+$/);
      assert.notEqual(other.signingKey.kid, idp.signingKey.kid);
      const response = await client.request(`${other.issuer}/.well-known/openid-configuration`);
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as { issuer: string }).issuer, other.issuer);
      const stale = await client.navigate(`${other.issuer}/interaction/not-a-real-one`);
      assert.equal(stale.response.status, 400);
    } finally {
      await client.close();
      await other.close();
    }
  });

  it('runs the authorization code flow with PKCE and puts the user claims in the ID token', async function () {
    const client = browser();
    const before = Math.floor(Date.now() / 1000);
    const tokens = await codeFlow(client, 'alice', 'alice-password');
    const claims = tokens.claims();
    assert.ok(claims);
    assert.equal(claims.iss, idp.issuer);
    assert.equal(claims.aud, WIKI.client_id);
    assert.equal(claims.sub, 'user-alice');
    assert.equal(claims['name'], 'Alice Admin');
    assert.equal(claims['email'], 'alice@gatehouse.test');
    assert.equal(claims['email_verified'], true);
    assert.deepEqual(claims['groups'], ['admins', 'staff']);
    assert.deepEqual(claims['roles'], ['admin']);
    assert.deepEqual(claims.amr, ['pwd', 'mfa']);
    assert.equal(claims.acr, ACR_MFA);
    assert.ok(typeof claims.auth_time === 'number' && claims.auth_time >= before - 1);
    assert.equal(typeof claims['sid'], 'string');
    assert.equal(claims.exp - claims.iat, ID_TOKEN_TTL);

    // Signed with the key the provider exposes, so tests can mint look-alikes.
    const idToken = tokens.id_token ?? '';
    assert.equal(decodeProtectedHeader(idToken).kid, idp.signingKey.kid);
    const verified = await jwtVerify(idToken, await importJWK(publicPart(idp.signingKey), idp.signingKey.alg), {
      issuer: idp.issuer,
      audience: WIKI.client_id,
    });
    assert.equal(verified.payload.sub, 'user-alice');

    // The provider session makes the next sign-in silent: no form, straight back.
    const again = await authorizationRequest();
    const { chain } = await client.navigate(again.url.href, { stopAt: atWiki });
    const callback = new URL(chain.at(-1) ?? '');
    assert.ok(atWiki(callback), chain.join(' -> '));
    assert.ok(callback.searchParams.get('code'));
    assert.ok(!chain.some((url) => url.includes('/interaction/')), `expected no interaction: ${chain.join(' -> ')}`);
  });

  it('reports password-only sign-ins without mfa in amr and acr', async function () {
    const claims = (await codeFlow(browser(), 'bob', 'bob-password')).claims();
    assert.ok(claims);
    assert.equal(claims.sub, 'user-bob');
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal(claims.acr, ACR_PASSWORD);
    assert.deepEqual(claims['groups'], ['staff']);
    assert.deepEqual(claims['roles'], []);
  });

  it('refuses a wrong password without signing in, and accepts the right one afterwards', async function () {
    const client = browser();
    const request = await authorizationRequest();
    const refused = await client.signIn(request.url.href, 'alice', 'not-her-password', { stopAt: atWiki });
    assert.equal(refused.response.status, 401);
    assert.match(await refused.response.text(), /Wrong login or password/);
    assert.ok(!refused.chain.some((url) => atWiki(new URL(url))), refused.chain.join(' -> '));
    const cookieNames = (await client.jar.getCookies(idp.issuer)).map((cookie) => cookie.key);
    assert.ok(!cookieNames.includes('_session'), `a session cookie was set: ${cookieNames.join(', ')}`);

    const unknown = await client.submitForm(refused.response, refused.response.url, { login: 'nobody', password: 'x' });
    assert.equal(unknown.response.status, 401);
    const [form] = parseForms(await unknown.response.text(), unknown.response.url);
    assert.equal(form?.fields.find((field) => field.name === 'login')?.value, 'nobody', 'the login is echoed back');

    const accepted = await client.submitForm(unknown.response, unknown.response.url, { login: 'alice', password: 'alice-password' }, undefined, {
      stopAt: atWiki,
    });
    const callback = new URL(accepted.chain.at(-1) ?? '');
    assert.ok(atWiki(callback), accepted.chain.join(' -> '));
    assert.equal(callback.searchParams.get('state'), request.state);
  });

  it('requires PKCE for the code flow', async function () {
    const url = oidc.buildAuthorizationUrl(wiki, {
      redirect_uri: WIKI.redirect_uri,
      scope: 'openid',
      state: 'no-pkce',
    });
    const { chain } = await browser().navigate(url.href, { stopAt: atWiki });
    const callback = new URL(chain.at(-1) ?? '');
    assert.ok(atWiki(callback), chain.join(' -> '));
    assert.equal(callback.searchParams.get('error'), 'invalid_request');
    assert.match(callback.searchParams.get('error_description') ?? '', /PKCE/i);
  });

  it('revokes access tokens', async function () {
    const tokens = await codeFlow(browser(), 'bob', 'bob-password');
    const info = await oidc.fetchUserInfo(wiki, tokens.access_token, 'user-bob');
    assert.equal(info['email'], 'bob@gatehouse.test');
    await oidc.tokenRevocation(wiki, tokens.access_token);
    await assert.rejects(oidc.fetchUserInfo(wiki, tokens.access_token, 'user-bob'));
  });

  it('ends the provider session through RP-initiated logout and honours post_logout_redirect_uri', async function () {
    const client = browser();
    const tokens = await codeFlow(client, 'alice', 'alice-password');
    const logoutUrl = oidc.buildEndSessionUrl(wiki, {
      id_token_hint: tokens.id_token ?? '',
      post_logout_redirect_uri: WIKI.post_logout_redirect_uri,
      state: 'bye',
    });
    const confirm = await client.navigate(logoutUrl.href);
    assert.equal(confirm.response.status, 200);
    const done = await client.submitForm(confirm.response, confirm.response.url, { logout: 'yes' }, { action: /session\/end\/confirm/ }, { stopAt: atWiki });
    const landing = new URL(done.chain.at(-1) ?? '');
    assert.equal(`${landing.origin}${landing.pathname}`, WIKI.post_logout_redirect_uri, done.chain.join(' -> '));
    assert.equal(landing.searchParams.get('state'), 'bye');

    // Signed out: the next authorization asks for the password again.
    const request = await authorizationRequest();
    const next = await client.navigate(request.url.href, { stopAt: atWiki });
    assert.ok(parseForms(await next.response.text(), next.response.url).some((form) => form.passwordFields.includes('password')));
  });

  it('completes a device-flow sign-in through the user code page and the same login form', async function () {
    const device = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid profile groups' });
    assert.equal(device.interval, 1);
    const client = browser();
    const input = await client.navigate(device.verification_uri);
    assert.equal(input.response.status, 200);
    const confirm = await client.submitForm(input.response, input.response.url, { user_code: device.user_code });
    assert.match(await confirm.response.text(), /Confirm device/);
    const login = await client.submitForm(confirm.response, confirm.response.url, {});
    assert.match(login.response.url, /\/interaction\//);
    const done = await client.submitForm(login.response, login.response.url, { login: 'bob', password: 'bob-password' });
    assert.equal(done.response.status, 200);
    assert.match(await done.response.text(), /Sign-in complete/);

    const tokens = await oidc.pollDeviceAuthorizationGrant(cli, device);
    const claims = tokens.claims();
    assert.ok(claims);
    assert.equal(claims.sub, 'user-bob');
    assert.deepEqual(claims['groups'], ['staff']);
    assert.deepEqual(claims.amr, ['pwd']);
  });

  it('issues a signed JWT access token for a resource server through the device flow', async function () {
    const device = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid connectors:register', resource: CONNECTOR_API });
    assert.ok(device.verification_uri_complete);
    const client = browser();
    // verification_uri_complete answers with a self-submitting form; the client submits it.
    const confirm = await client.navigate(device.verification_uri_complete);
    assert.match(await confirm.response.text(), /Confirm device/);
    const login = await client.submitForm(confirm.response, confirm.response.url, {});
    const done = await client.signIn(login.response.url, 'alice', 'alice-password');
    assert.match(await done.response.text(), /Sign-in complete/);

    const tokens = await oidc.pollDeviceAuthorizationGrant(cli, device);
    const jwksResponse = await caFetch.fetch(wiki.serverMetadata().jwks_uri ?? '');
    const jwks = createLocalJWKSet((await jwksResponse.json()) as JSONWebKeySet);
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer: idp.issuer,
      audience: CONNECTOR_API,
      typ: 'at+jwt',
    });
    assert.equal(protectedHeader.kid, idp.signingKey.kid);
    assert.equal(payload.sub, 'user-alice');
    assert.equal(payload['client_id'], CLI.client_id);
    assert.equal(payload['scope'], 'connectors:register');
    assert.deepEqual(payload['roles'], ['admin']);
    assert.deepEqual(payload['groups'], ['admins', 'staff']);
  });
});
