import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import WebSocket from 'ws';
import { createCaFetch } from '../../dev/lib/browser-client.ts';
import type { BrowserClient } from '../../dev/lib/browser-client.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';
import { toLoopback } from '../support/loopback.ts';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/**
 * The real identity provider ends a user's session (RP-initiated logout at
 * the provider) and posts a logout token to the gateway, which must end every
 * gateway session tied to it and close their WebSockets. Forged or unfit
 * tokens are refused with 400 and revoke nothing.
 */
describe('back-channel logout', function () {
  this.timeout(60_000);
  let stack: Stack;
  let caFetch: ReturnType<typeof createCaFetch>;
  const sockets: WebSocket[] = [];

  before(async () => {
    stack = await startStack({ backchannelLogout: true });
    caFetch = createCaFetch({ ca: stack.ca.certPem });
  });
  after(async () => {
    for (const socket of sockets) socket.terminate();
    await caFetch.close();
    await stack.close();
  });
  beforeEach(() => stack.audit.clear());

  const endpoint = (): string => `${stack.urls.wiki}/.gatehouse/backchannel-logout`;

  async function status(browser: BrowserClient, path = '/private'): Promise<number> {
    return (await browser.request(`${stack.urls.wiki}${path}`, { headers: { accept: 'application/json' } })).status;
  }

  async function openSocket(browser: BrowserClient): Promise<WebSocket> {
    const cookie = await browser.jar.getCookieString(`${stack.urls.wiki}/`);
    const socket = new WebSocket(`${stack.urls.wiki.replace('https', 'wss')}/ws`, {
      ca: stack.ca.certPem,
      lookup: toLoopback,
      headers: { cookie, origin: stack.urls.wiki },
    });
    socket.on('error', () => {});
    sockets.push(socket);
    await once(socket, 'message');
    return socket;
  }

  async function signedIn(user = 'alice'): Promise<{ browser: BrowserClient }> {
    const browser = stack.browser();
    const { response } = await signIn(stack, browser, user, '/private');
    assert.equal(response.status, 200);
    return { browser };
  }

  async function post(token: string): Promise<{ status: number; body: string; cacheControl: string | null }> {
    const response = await caFetch.fetch(endpoint(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: token }).toString(),
    });
    return { status: response.status, body: await response.text(), cacheControl: response.headers.get('cache-control') };
  }

  async function sign(claims: JWTPayload, options: { key?: JWK; typ?: string | null } = {}): Promise<string> {
    const jwk = options.key ?? stack.idp.signingKey;
    const header = { alg: jwk.alg ?? 'RS256', kid: jwk.kid, ...(options.typ === null ? {} : { typ: options.typ ?? 'logout+jwt' }) };
    return new SignJWT(claims).setProtectedHeader(header).sign(await importJWK(jwk, header.alg));
  }

  function claims(overrides: Record<string, unknown> = {}): JWTPayload {
    const base: Record<string, unknown> = {
      iss: stack.idp.issuer,
      aud: 'gatehouse-test',
      iat: Math.floor(stack.clock() / 1000),
      jti: randomBytes(12).toString('base64url'),
      events: { [EVENT]: {} },
      sid: 'no-such-provider-session',
      sub: 'alice-sub',
    };
    for (const [name, value] of Object.entries(overrides)) {
      if (value === undefined) delete base[name];
      else base[name] = value;
    }
    return base;
  }

  it('ends the session and closes its WebSocket when the user signs out at the provider', async () => {
    const { browser } = await signedIn('alice');
    assert.equal(await status(browser), 200);
    const socket = await openSocket(browser);
    const closed = once(socket, 'close');

    // RP-initiated logout at the provider, not at the gateway: only the back channel tells the gateway.
    const page = await browser.navigate(`${stack.idp.issuer}/session/end`);
    await browser.submitForm(page.response, page.response.url, { logout: 'yes' });

    const done = stack.audit.ofType('session.backchannel_logout');
    assert.equal(done.length, 1, JSON.stringify(done));
    assert.equal(done[0]?.outcome, 'success');
    await closed;
    assert.equal(await status(browser), 401, 'the cookie no longer works');
  });

  it('ends only the sessions tied to that provider session', async () => {
    const alice = await signedIn('alice');
    const bob = await signedIn('bob');
    const page = await alice.browser.navigate(`${stack.idp.issuer}/session/end`);
    await alice.browser.submitForm(page.response, page.response.url, { logout: 'yes' });
    assert.equal(await status(alice.browser), 401);
    assert.equal(await status(bob.browser), 200);
  });

  it('with sub and no sid, ends every session of that user signed in until then, and closes their WebSockets', async () => {
    const first = await signedIn('mallory');
    const second = await signedIn('mallory');
    const other = await signedIn('bob');
    const socket = await openSocket(second.browser);
    const closed = once(socket, 'close');

    const answer = await post(await sign(claims({ sid: undefined, sub: 'user-mallory' })));
    assert.equal(answer.status, 200);
    await closed;
    assert.equal(await status(first.browser), 401);
    assert.equal(await status(second.browser), 401);
    assert.equal(await status(other.browser), 200, "another user's session survives");
    const event = stack.audit.ofType('session.backchannel_logout').at(-1);
    assert.equal(event?.outcome, 'success');
    assert.deepEqual(event?.user, { sub: 'user-mallory' });

    // Sessions are timed in whole seconds: one signed in the second after the logout is not named by it.
    stack.clock.advance(1000);
    const again = await signedIn('mallory');
    assert.equal(await status(again.browser), 200, 'a sign-in after the logout works');
  });

  describe('refuses unfit tokens with 400, an audit event, and no session revoked', () => {
    let browser: BrowserClient;
    before(async () => {
      ({ browser } = await signedIn('dana'));
    });
    afterEach(async () => assert.equal(await status(browser), 200, 'the session still works'));

    async function refused(token: string, reason: string): Promise<void> {
      const answer = await post(token);
      assert.equal(answer.status, 400);
      assert.deepEqual(JSON.parse(answer.body), { error: 'invalid_request' });
      assert.equal(answer.cacheControl, 'no-store');
      const event = stack.audit.ofType('session.backchannel_logout').at(-1);
      assert.equal(event?.outcome, 'failure');
      assert.equal(event?.reason, reason);
    }

    it('accepts a well-formed token (control)', async () => {
      const answer = await post(await sign(claims()));
      assert.equal(answer.status, 200);
      assert.equal(answer.cacheControl, 'no-store');
    });
    it('a forged signature', async () => {
      const { privateKey } = await generateKeyPair('RS256', { extractable: true });
      const rogue = { ...(await exportJWK(privateKey)), alg: 'RS256', kid: stack.idp.signingKey.kid };
      await refused(await sign(claims(), { key: rogue }), 'signature');
    });
    it('another audience', async () => refused(await sign(claims({ aud: 'someone-else' })), 'aud_mismatch'));
    it('another issuer', async () => refused(await sign(claims({ iss: 'https://evil.example' })), 'iss_mismatch'));
    it('a nonce (an ID token passed off as a logout token)', async () => refused(await sign(claims({ nonce: 'n' })), 'nonce'));
    it('no events claim', async () => refused(await sign(claims({ events: undefined })), 'events'));
    it('an events claim without the back-channel event object', async () => refused(await sign(claims({ events: { [EVENT]: 'yes' } })), 'events'));
    it('neither sid nor sub', async () => refused(await sign(claims({ sid: undefined, sub: undefined })), 'no_sid_or_sub'));
    it('an old token', async () => refused(await sign(claims({ iat: Math.floor(stack.clock() / 1000) - 3600 })), 'expired'));
    it('another type', async () => refused(await sign(claims(), { typ: 'JWT' }), 'typ'));
    it('a replayed jti', async () => {
      const token = await sign(claims());
      assert.equal((await post(token)).status, 200);
      await refused(token, 'jti_replayed');
    });
    it('no token at all', async () => {
      const response = await caFetch.fetch(endpoint(), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'x=1' });
      assert.equal(response.status, 400);
      assert.equal(stack.audit.ofType('session.backchannel_logout').at(-1)?.reason, 'no_token');
    });
  });
});
