import assert from 'node:assert/strict';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateKeyPair, SignJWT, UnsecuredJWT, type JSONWebKeySet } from 'jose';
import { createApp } from '../../examples/verify-assertion/backend.ts';
import { createCaFetch } from '../../dev/lib/browser-client.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

interface Answer {
  hello?: string;
  user?: { sub: string; email?: string; groups?: string[]; app?: string };
  error?: string;
  reason?: string;
}

describe('examples/verify-assertion: a backend that trusts only Gatehouse', function () {
  this.timeout(60_000);
  let stack: Stack;
  let backend: Server;
  let backendUrl: string;
  let keysFetch: ReturnType<typeof createCaFetch>;
  let handler: RequestListener = (_req, res) => res.writeHead(503).end();
  /** What the gateway forwarded last, to replay or tamper with. */
  let lastAssertion = '';

  before(async () => {
    // The backend listens first: the gateway's configuration names its address.
    backend = createServer((req, res) => {
      const assertion = req.headers['x-gatehouse-assertion'];
      if (typeof assertion === 'string') lastAssertion = assertion;
      handler(req, res);
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
    stack = await startStack({
      configure: (config) => ({
        ...config,
        // Short-lived, so that the expiry test need not wait a minute.
        identityAssertion: { lifetime: '2s' },
        apps: (config.apps ?? []).map((app) => (app.id === 'wiki' || app.id === 'other' ? { ...app, internalUrl: backendUrl } : app)),
      }),
    });
    // The backend fetches the keys from the gateway's public address, which this test's CA signs.
    keysFetch = createCaFetch({ ca: stack.ca.certPem });
    handler = createApp({ jwksUrl: `${stack.urls.wiki}/.gatehouse/jwks.json`, audience: stack.urls.wiki, fetch: keysFetch.fetch });
  });
  after(async () => {
    await stack.close();
    await keysFetch.close();
    await new Promise<void>((resolve) => {
      backend.close(() => resolve());
      backend.closeAllConnections();
    });
  });

  const direct = async (headers: Record<string, string> = {}): Promise<{ status: number; body: Answer }> => {
    const response = await fetch(`${backendUrl}/whoami`, { headers });
    return { status: response.status, body: (await response.json()) as Answer };
  };

  it('says who the signed-in user is, from the verified assertion', async () => {
    const { response } = await signIn(stack, stack.browser(), 'bob', '/whoami');
    assert.equal(response.status, 200);
    const answer = (await response.json()) as Answer;
    assert.equal(answer.hello, 'Bob Staff');
    assert.equal(answer.user?.sub, 'user-bob');
    assert.equal(answer.user?.email, 'bob@gatehouse.test');
    assert.deepEqual(answer.user?.groups, ['staff']);
    assert.equal(answer.user?.app, 'wiki');
  });

  it('refuses an assertion Gatehouse signed for another app', async () => {
    const browser = stack.browser();
    const { response } = await browser.signIn(`${stack.urls.other}/whoami`, 'bob', 'bob-password');
    assert.equal(response.status, 401);
    assert.deepEqual(await response.json(), { error: 'unauthenticated', reason: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
  });

  it('refuses a request that did not come through Gatehouse: no assertion, a forged one, alg none, two of them', async () => {
    assert.deepEqual(await direct(), { status: 401, body: { error: 'unauthenticated', reason: 'assertion_missing' } });

    // Same claims and key id as a real one, signed with the attacker's own P-256 key.
    const jwks = (await (await keysFetch.fetch(`${stack.urls.wiki}/.gatehouse/jwks.json`)).json()) as JSONWebKeySet;
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ email: 'alice@gatehouse.test', groups: ['admins'] })
      .setProtectedHeader({ alg: 'ES256', kid: jwks.keys[0]?.kid ?? '', typ: 'JWT' })
      .setIssuer('urn:gatehouse')
      .setAudience(stack.urls.wiki)
      .setSubject('user-alice')
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(privateKey);
    assert.deepEqual(await direct({ 'x-gatehouse-assertion': forged }), {
      status: 401,
      body: { error: 'unauthenticated', reason: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' },
    });

    const unsigned = new UnsecuredJWT({ sub: 'user-alice' })
      .setIssuer('urn:gatehouse')
      .setAudience(stack.urls.wiki)
      .setIssuedAt()
      .setExpirationTime('1m')
      .encode();
    assert.equal((await direct({ 'x-gatehouse-assertion': unsigned })).status, 401);

    // A real assertion next to a forged one is not "the first one wins".
    await signIn(stack, stack.browser(), 'bob', '/capture');
    assert.ok(lastAssertion);
    const twice = await fetch(`${backendUrl}/whoami`, {
      headers: [
        ['x-gatehouse-assertion', lastAssertion],
        ['x-gatehouse-assertion', forged],
      ],
    });
    assert.equal(twice.status, 401);
    assert.deepEqual(await twice.json(), { error: 'unauthenticated', reason: 'assertion_repeated' });
  });

  it('refuses an expired assertion', async () => {
    await signIn(stack, stack.browser(), 'bob', '/capture-again');
    const captured = lastAssertion;
    const strict = createApp({
      jwksUrl: `${stack.urls.wiki}/.gatehouse/jwks.json`,
      audience: stack.urls.wiki,
      fetch: keysFetch.fetch,
      clockToleranceSeconds: 0,
    });
    handler = strict;
    assert.equal((await direct({ 'x-gatehouse-assertion': captured })).status, 200, 'valid for its short lifetime');
    await sleep(2_100);
    assert.deepEqual(await direct({ 'x-gatehouse-assertion': captured }), { status: 401, body: { error: 'unauthenticated', reason: 'ERR_JWT_EXPIRED' } });
  });
});
