import assert from 'node:assert/strict';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import { OidcClient, AUTH_TIME_CLAIMS_REQUEST } from '../../../src/signin/oidc-client.ts';
import { requestedScopes } from '../../../src/signin/signin-url.ts';

const ISSUER = 'https://idp.example.com';

/** An identity provider that only answers discovery. */
function discoveryOnly(extra: Record<string, unknown> = {}) {
  return (url: string): Promise<Response> => {
    assert.equal(url, `${ISSUER}/.well-known/openid-configuration`);
    const metadata = {
      issuer: ISSUER,
      authorization_endpoint: `${ISSUER}/authorize?tenant=corp`,
      token_endpoint: `${ISSUER}/token`,
      jwks_uri: `${ISSUER}/jwks`,
      ...extra,
    };
    return Promise.resolve(Response.json(metadata));
  };
}

function client(authorizationParams: Record<string, string>, metadata: Record<string, unknown> = {}): OidcClient {
  const config = parseGatewayConfig({
    identityProvider: { issuer: ISSUER, clientId: 'gatehouse', clientSecret: 'a-client-secret' },
    session: { secrets: [{ id: 1, secret: 'test-session-secret-number-one-0123456789abcdef' }] },
    apps: [{ id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' }],
  });
  // Past the configuration check on purpose: what the URL builder does with whatever it is given.
  return new OidcClient({ settings: { ...config.identityProvider, authorizationParams }, clock: Date.now, fetch: discoveryOnly(metadata) });
}

const OWNED = {
  redirect_uri: 'https://wiki.example.com/.gatehouse/callback',
  scope: 'openid profile',
  state: 'the-state',
  nonce: 'the-nonce',
  code_challenge: 'the-challenge',
  code_challenge_method: 'S256',
};

describe('the authorization URL with identityProvider.authorizationParams', () => {
  it('carries the configured parameters next to those Gatehouse writes', async () => {
    const url = await client({ access_type: 'offline', prompt: 'consent' }).authorizationUrl(OWNED);
    assert.equal(url.origin + url.pathname, `${ISSUER}/authorize`);
    assert.equal(url.searchParams.get('tenant'), 'corp', "the endpoint's own query stays");
    assert.equal(url.searchParams.get('access_type'), 'offline');
    assert.equal(url.searchParams.get('prompt'), 'consent');
    for (const [name, value] of Object.entries(OWNED)) assert.equal(url.searchParams.get(name), value, name);
    assert.equal(url.searchParams.get('client_id'), 'gatehouse');
    assert.equal(url.searchParams.get('response_type'), 'code');
  });

  it('sends nothing more without them', async () => {
    const url = await client({}).authorizationUrl(OWNED);
    assert.deepEqual([...url.searchParams.keys()].sort(), [...Object.keys(OWNED), 'client_id', 'response_type', 'tenant'].sort());
  });

  it('lets none override a parameter Gatehouse writes, even one that got past the configuration check', async () => {
    const hostile = {
      state: 'attacker-state',
      nonce: 'attacker-nonce',
      redirect_uri: 'https://evil.example/cb',
      code_challenge: 'attacker',
      code_challenge_method: 'plain',
      scope: 'openid admin',
      client_id: 'another-client',
      response_type: 'token',
      response_mode: 'form_post',
      request_uri: 'https://evil.example/request',
      Claims: '{}',
      audience: 'https://api.example.com',
    };
    const url = await client(hostile, { claims_parameter_supported: true }).authorizationUrl(OWNED);
    for (const [name, value] of Object.entries(OWNED)) assert.deepEqual(url.searchParams.getAll(name), [value], name);
    assert.deepEqual(url.searchParams.getAll('client_id'), ['gatehouse']);
    assert.deepEqual(url.searchParams.getAll('response_type'), ['code']);
    assert.deepEqual(url.searchParams.getAll('claims'), [AUTH_TIME_CLAIMS_REQUEST]);
    for (const name of ['response_mode', 'request_uri', 'Claims']) assert.equal(url.searchParams.has(name), false, name);
    assert.equal(url.searchParams.get('audience'), 'https://api.example.com', 'the harmless one still goes');
  });

  it("a step-up's prompt wins over a configured one", async () => {
    const url = await client({ prompt: 'consent', access_type: 'offline' }).authorizationUrl({ ...OWNED, prompt: 'login', max_age: '0' });
    assert.deepEqual(url.searchParams.getAll('prompt'), ['login']);
    assert.equal(url.searchParams.get('access_type'), 'offline');
  });

  it('URL-encodes values, so that none can add a parameter of its own', async () => {
    const value = 'a b&state=evil#frag=1+2/é?';
    const url = await client({ login_hint: value, domain_hint: 'contoso.com' }).authorizationUrl(OWNED);
    assert.equal(url.searchParams.get('login_hint'), value);
    assert.deepEqual(url.searchParams.getAll('state'), ['the-state']);
    assert.equal(url.hash, '');
    assert.match(url.href, /login_hint=a\+b%26state%3Devil%23frag%3D1%2B2%2F%C3%A9%3F/);
  });
});

describe('offline_access on the authorization request (session.refresh)', () => {
  const withOffline = ['openid', 'profile', 'email', 'offline_access'];

  it('goes to a provider that lists it, or lists no scopes', async () => {
    assert.deepEqual(requestedScopes(withOffline, ['openid', 'profile', 'email', 'offline_access']), withOffline);
    assert.deepEqual(requestedScopes(withOffline, undefined), withOffline);
    assert.equal(await client({}).scopesSupported(), undefined);
  });

  it('is left out for a provider that lists its scopes without it (Google refuses the request: it asks with access_type)', async () => {
    const google = await client({}, { scopes_supported: ['openid', 'email', 'profile'] }).scopesSupported();
    assert.deepEqual(google, ['openid', 'email', 'profile']);
    assert.deepEqual(requestedScopes(withOffline, google), ['openid', 'profile', 'email']);
    assert.deepEqual(requestedScopes(['openid', 'profile'], google), ['openid', 'profile'], 'nothing else is touched');
  });
});
