import assert from 'node:assert/strict';
import { signIn, startStack, type Stack } from '../support/stack.ts';
import { recipe } from './idp-recipes/recipes.ts';

/** What docs/identity-providers.md tells Google users to write for refresh tokens. */
const GOOGLE_REFRESH = recipe('Google', 1).config as { identityProvider: { authorizationParams: Record<string, string> }; session: { refresh: boolean } };

/**
 * `identityProvider.authorizationParams` reach the real identity provider on the authorization request, next to
 * what Gatehouse writes itself: here Google's documented recipe for a refresh token (`access_type=offline`,
 * `prompt=consent`, with `session.refresh`), against an oidc-provider told to read `access_type` as Google does.
 */
describe('extra authorization request parameters (identityProvider.authorizationParams)', function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({
      refreshTokens: true,
      idpClaims: { extraParams: ['access_type'] },
      configure: (config) => ({
        ...config,
        identityProvider: {
          ...config.identityProvider,
          authorizationParams: { ...GOOGLE_REFRESH.identityProvider.authorizationParams, login_hint: 'alice@gatehouse.test' },
        },
        session: { ...config.session, refresh: GOOGLE_REFRESH.session.refresh },
      }),
    });
  });
  after(async () => {
    await stack?.close();
  });

  it('the provider sees them on the authorization request, and the sign-in completes', async () => {
    const browser = stack.browser();
    const { response, chain } = await signIn(stack, browser, 'alice', '/private');
    assert.equal(response.status, 200, await response.text());
    const sent = chain.map((url) => new URL(url)).find((url) => url.href.startsWith(`${stack.idp.issuer}/auth`));
    assert.ok(sent, `the browser went to the authorization endpoint: ${chain.join(' → ')}`);
    assert.equal(sent.searchParams.get('access_type'), 'offline');
    assert.equal(sent.searchParams.get('login_hint'), 'alice@gatehouse.test');

    const seen = stack.idp.authorizations.at(-1);
    assert.ok(seen, 'the provider answered an authorization request');
    assert.equal(seen['access_type'], 'offline', 'read by the provider, not only present in the URL');
    assert.equal(seen['prompt'], 'consent');
    assert.equal(seen['login_hint'], 'alice@gatehouse.test');
    // What Gatehouse writes is still there, its own.
    assert.equal(seen['client_id'], 'gatehouse-test');
    assert.equal(seen['redirect_uri'], `${stack.urls.wiki}/.gatehouse/callback`);
    assert.equal(seen['code_challenge_method'], 'S256');
    assert.ok(String(seen['scope']).split(' ').includes('offline_access'), 'session.refresh asks for offline_access itself');
  });
});
