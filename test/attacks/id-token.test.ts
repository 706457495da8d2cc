import assert from 'node:assert/strict';
import { exportJWK, generateKeyPair } from 'jose';
import type { GatehouseErrorCode } from '../../src/errors/index.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';
import { createTokenTamper, type ForgedToken, type TokenTamper } from '../support/token-tamper.ts';

/**
 * Each case lets the real provider authenticate the user, then replaces the
 * ID token in the token response (see token-tamper.ts) and checks that the
 * callback refuses it with the right code, an audit event, and no session.
 */
describe('attack: forged or unfit ID tokens at the callback', function () {
  this.timeout(30_000);
  let stack: Stack;
  let tamper: TokenTamper;

  before(async () => {
    stack = await startStack({
      // Short-lived ID tokens, so a clock moved by minutes outlives the token but not the sign-in attempt.
      idTokenTtlSeconds: 120,
      gatewayOptions: (idp) => {
        tamper = createTokenTamper(idp.caPem, idp.signingKey);
        return { idpFetch: tamper.fetch };
      },
    });
  });
  after(async () => {
    await stack.close();
    await tamper.close();
  });
  beforeEach(() => {
    stack.audit.clear();
    stack.backend.requests.length = 0;
    stack.clock.reset();
  });

  async function expectRefused(
    forge: ((token: ForgedToken) => ForgedToken) | undefined,
    code: GatehouseErrorCode,
    reason: string | RegExp,
    beforeCallback?: () => void,
  ): Promise<void> {
    tamper.next = forge;
    const browser = stack.browser();
    const isCallback = (url: URL): boolean => url.pathname === '/.gatehouse/callback';
    let { response, chain } = await signIn(stack, browser, 'bob', '/private', beforeCallback ? { stopAt: isCallback } : {});
    if (beforeCallback) {
      beforeCallback();
      ({ response, chain } = await browser.navigate(chain.at(-1)!, { initiator: stack.idp.issuer }));
    }
    assert.ok(chain.at(-1)?.startsWith(`${stack.urls.wiki}/.gatehouse/callback?`), `stopped at the callback: ${chain.at(-1)}`);
    const page = await response.text();
    assert.match(page, new RegExp(`Code: ${code}`));
    assert.match(page, /Request ID: [0-9a-f-]{36}/);
    assert.doesNotMatch(page, /at .*\.ts:\d+|Error:|127\.0\.0\.1/, 'no stack trace, no internal address');
    const failed = stack.audit.ofType('signin.failed').at(-1);
    assert.equal(failed?.code, code);
    if (typeof reason === 'string') assert.equal(failed?.reason, reason);
    else assert.match(failed?.reason ?? '', reason);
    const cookies = await browser.jar.getCookies(`${stack.urls.wiki}/`);
    assert.equal(cookies.filter((cookie) => cookie.key === '__Host-gatehouse').length, 0, 'no session cookie');
    assert.equal(stack.backend.requests.length, 0, 'nothing forwarded');
    assert.equal(stack.audit.ofType('signin.succeeded').length, 0);
  }

  it('accepts the untouched token (control)', async () => {
    tamper.next = (token) => token;
    const { response } = await signIn(stack, stack.browser(), 'bob', '/private');
    assert.equal(response.status, 200);
  });

  it('refuses a nonce that does not match the transaction', async () => {
    await expectRefused((t) => ({ ...t, claims: { ...t.claims, nonce: 'another-tabs-nonce-0123456789' } }), 'ERR_ID_TOKEN_INVALID', 'nonce_mismatch');
  });

  it('refuses a token from a second issuer, even signed with the right key', async () => {
    await expectRefused((t) => ({ ...t, claims: { ...t.claims, iss: 'https://evil-idp.example' } }), 'ERR_ID_TOKEN_INVALID', 'iss_mismatch');
  });

  it('refuses a token issued for another audience', async () => {
    await expectRefused((t) => ({ ...t, claims: { ...t.claims, aud: 'someone-else' } }), 'ERR_ID_TOKEN_INVALID', 'aud_mismatch');
  });

  it('refuses an extra audience without us as the authorized party', async () => {
    await expectRefused(
      (t) => ({ ...t, claims: { ...t.claims, aud: [String(t.claims.aud), 'someone-else'], azp: 'someone-else' } }),
      'ERR_ID_TOKEN_INVALID',
      /^(aud|azp)_mismatch$/,
    );
  });

  it('refuses alg "none"', async () => {
    await expectRefused((t) => ({ ...t, unsigned: true }), 'ERR_ID_TOKEN_INVALID', 'alg');
  });

  it('refuses a token signed by a key the provider does not publish', async () => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const rogue = { ...(await exportJWK(privateKey)), alg: 'RS256' };
    await expectRefused((t) => ({ ...t, key: rogue, header: { ...t.header } }), 'ERR_ID_TOKEN_INVALID', 'signature');
  });

  it('refuses a token with an unknown key id', async () => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const rogue = { ...(await exportJWK(privateKey)), alg: 'RS256', kid: 'rogue-kid' };
    await expectRefused((t) => ({ ...t, key: rogue, header: { ...t.header, kid: 'rogue-kid' } }), 'ERR_ID_TOKEN_INVALID', 'unknown_key');
  });

  it('refuses an expired token (the gateway clock moved past its expiry)', async () => {
    await expectRefused(undefined, 'ERR_ID_TOKEN_EXPIRED', 'exp', () => stack.clock.advance(5 * 60 * 1000));
  });

  it('refuses a token issued in the future, and says to check the clock', async () => {
    await expectRefused(undefined, 'ERR_CLOCK_SKEW', /^(iat|nbf|auth_time)_in_future$/, () => stack.clock.advance(-10 * 60 * 1000));
  });

  it('tolerates a token issued one second ahead (bounded skew)', async () => {
    tamper.next = (t) => ({ ...t, claims: { ...t.claims, iat: Math.floor(Date.now() / 1000) + 1 } });
    const { response } = await signIn(stack, stack.browser(), 'bob', '/private');
    assert.equal(response.status, 200);
  });
});
