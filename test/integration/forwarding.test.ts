import assert from 'node:assert/strict';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { signIn, startStack, type Stack } from '../support/stack.ts';

interface Echo {
  path: string;
  headers: Record<string, string | undefined>;
}

describe('what the backend receives, and what comes back (direct forwarding)', function () {
  this.timeout(30_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({
      configure: (config) => ({
        ...config,
        apps: (config.apps ?? []).map((app) =>
          app.id === 'wiki' ? { ...app, identityHeaders: { 'X-Remote-User': 'email', 'X-Remote-Groups': 'groups', 'X-Remote-Name': 'name' } } : app,
        ),
      }),
    });
  });
  after(async () => {
    await stack.close();
  });

  it('sets the configured identity headers from the session and removes client copies', async () => {
    const browser = stack.browser();
    await signIn(stack, browser, 'alice');
    const response = await browser.request(`${stack.urls.wiki}/who`, {
      headers: { accept: 'application/json', 'x-remote-user': 'mallory@evil.example', 'X-Remote-Groups': 'admins' },
    });
    const echo = (await response.json()) as Echo;
    assert.equal(echo.headers['x-remote-user'], 'alice@gatehouse.test');
    assert.equal(echo.headers['x-remote-groups'], 'admins,staff');
    assert.equal(echo.headers['x-remote-name'], 'Alice Admin');
  });

  it('never lets a client set identity headers on a pass-through app either', async () => {
    const response = await stack.browser().request(`${stack.urls.open}/who`, {
      headers: { accept: 'application/json', 'x-gatehouse-assertion': 'forged.jwt.value', 'x-gatehouse-user': 'admin' },
    });
    const echo = (await response.json()) as Echo;
    assert.equal(echo.headers['x-gatehouse-assertion'], undefined);
    assert.equal(echo.headers['x-gatehouse-user'], undefined);
  });

  it('sends a signed identity assertion that verifies against the published JWKS', async () => {
    const browser = stack.browser();
    await signIn(stack, browser, 'alice');
    const response = await browser.request(`${stack.urls.wiki}/who`, { headers: { accept: 'application/json' } });
    const token = ((await response.json()) as Echo).headers['x-gatehouse-assertion'];
    assert.ok(token, 'assertion present');
    const jwksResponse = await stack.browser().request(`${stack.urls.wiki}/.gatehouse/jwks.json`);
    assert.equal(jwksResponse.status, 200, 'JWKS served without a session');
    const jwks = createLocalJWKSet((await jwksResponse.json()) as JSONWebKeySet);
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: 'urn:gatehouse',
      audience: stack.urls.wiki,
      algorithms: ['ES256'],
    });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.ok(protectedHeader.kid);
    assert.equal(payload.sub, 'user-alice');
    assert.equal(payload['email'], 'alice@gatehouse.test');
    assert.deepEqual(payload['groups'], ['admins', 'staff']);
    assert.ok(payload.exp! - payload.iat! <= 60);
    await assert.rejects(jwtVerify(token, jwks, { issuer: 'urn:gatehouse', audience: stack.urls.other }), /aud/);
  });

  it('translates the internal address in redirects and cookie scopes', async () => {
    const browser = stack.browser();
    const redirect = await browser.request(`${stack.urls.open}/redirect-internal`, { headers: { accept: 'application/json' } });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('location'), `${stack.urls.open}/landing?x=1`);
    const cookies = await browser.request(`${stack.urls.open}/cookie-scope`, { headers: { accept: 'application/json' } });
    assert.deepEqual(cookies.setCookies, ['pref=1; Path=/; HttpOnly', 'other=2; Domain=elsewhere.example; Path=/x']);
  });
});
