import assert from 'node:assert/strict';
import * as jose from 'jose';
import { bearerSchema, type BearerConfig } from '../../../src/config/bearer-schema.ts';
import { GatehouseError } from '../../../src/errors/index.ts';
import { IdpKeys } from '../../../src/signin/idp-keys.ts';
import { verifyBearer, type BearerVerifierDeps } from '../../../src/bearer/verify-bearer.ts';

const ISSUER = 'https://idp.example.test';
const AUDIENCE = 'https://api.example.test';
const NOW = Date.UTC(2025, 0, 31, 8, 0, 0);
const nowSeconds = Math.floor(NOW / 1000);

interface Signer {
  readonly key: jose.CryptoKey;
  readonly kid: string;
}

async function signer(kid: string): Promise<{ signer: Signer; publicJwk: jose.JWK }> {
  const { privateKey, publicKey } = await jose.generateKeyPair('RS256', { extractable: true });
  return { signer: { key: privateKey, kid }, publicJwk: { ...(await jose.exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

async function sign(by: Signer, claims: jose.JWTPayload, header: Partial<jose.JWTHeaderParameters> = {}): Promise<string> {
  return new jose.SignJWT({ iss: ISSUER, aud: AUDIENCE, iat: nowSeconds - 10, exp: nowSeconds + 300, sub: 'user-alice', client_id: 'cli', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: by.kid, typ: 'at+jwt', ...header })
    .sign(by.key);
}

function unsigned(claims: jose.JWTPayload): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'none', typ: 'at+jwt' })}.${encode({ iss: ISSUER, aud: AUDIENCE, exp: nowSeconds + 300, sub: 'user-alice', ...claims })}.`;
}

describe('bearer: the access-token verifier', () => {
  let good: Signer;
  let stranger: Signer;
  let deps: BearerVerifierDeps;
  let fetches = 0;
  const settings = (input: Partial<Parameters<typeof bearerSchema.parse>[0]> = {}): BearerConfig => bearerSchema.parse({ audiences: [AUDIENCE], ...input });

  before(async () => {
    const made = await signer('k1');
    good = made.signer;
    stranger = (await signer('k1')).signer;
    const jwks = JSON.stringify({ keys: [made.publicJwk] });
    const keys = new IdpKeys({
      jwksUri: () => Promise.resolve(new URL(`${ISSUER}/jwks`)),
      fetch: () => {
        fetches += 1;
        return Promise.resolve(new Response(jwks, { headers: { 'content-type': 'application/json' } }));
      },
      timeoutSeconds: 5,
    });
    deps = { keys, issuer: () => Promise.resolve(ISSUER), clock: () => NOW, clockToleranceSeconds: 5 };
  });

  async function refused(token: string, config: BearerConfig, code: string, reason: string): Promise<void> {
    await assert.rejects(verifyBearer(token, config, deps), (error: unknown) => {
      assert.ok(error instanceof GatehouseError, String(error));
      assert.equal(error.code, code);
      assert.equal(error.reason, reason);
      return true;
    });
  }

  it('accepts a user access token and says who the user and the client are', async () => {
    const verified = await verifyBearer(await sign(good, { scope: 'read write' }), settings({ scopes: ['read'] }), deps);
    assert.equal(verified.sub, 'user-alice');
    assert.equal(verified.kind, 'user');
    assert.equal(verified.clientId, 'cli');
    assert.deepEqual(verified.scopes, ['read', 'write']);
    assert.equal(verified.expiresAt, nowSeconds + 300);
  });

  it('makes a client-credentials token (sub is the client, or no sub) a service named by its client id', async () => {
    const same = await verifyBearer(await sign(good, { sub: 'robot', client_id: 'robot' }), settings(), deps);
    assert.deepEqual([same.sub, same.kind], ['robot', 'service']);
    const none = await verifyBearer(await sign(good, { sub: undefined, client_id: undefined, azp: 'robot' }), settings(), deps);
    assert.deepEqual([none.sub, none.kind, none.clientId], ['robot', 'service', 'robot']);
    await refused(await sign(good, { sub: undefined, client_id: undefined }), settings(), 'ERR_BEARER_TOKEN_INVALID', 'sub_missing');
  });

  it('reads scopes from `scope` and from an `scp` array alike', async () => {
    const verified = await verifyBearer(await sign(good, { scope: undefined, scp: ['read', 'admin'] }), settings({ scopes: ['read', 'admin'] }), deps);
    assert.deepEqual(verified.scopes, ['read', 'admin']);
  });

  it('refuses a token missing a required scope with ERR_BEARER_SCOPE', async () => {
    await refused(await sign(good, { scope: 'read' }), settings({ scopes: ['read', 'write'] }), 'ERR_BEARER_SCOPE', 'scope_missing');
    await refused(await sign(good, {}), settings({ scopes: ['read'] }), 'ERR_BEARER_SCOPE', 'scope_missing');
  });

  it('refuses a signature by another key under the same kid', async () => {
    await refused(await sign(stranger, {}), settings(), 'ERR_BEARER_TOKEN_INVALID', 'signature');
  });

  it('refuses a token whose payload was altered after signing', async () => {
    const [head, , signature] = (await sign(good, {})).split('.');
    const payload = Buffer.from(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, exp: nowSeconds + 300, sub: 'user-bob' })).toString('base64url');
    await refused(`${head}.${payload}.${signature}`, settings(), 'ERR_BEARER_TOKEN_INVALID', 'signature');
  });

  it('refuses alg none before fetching any key, and an algorithm the app does not allow', async () => {
    const before = fetches;
    await refused(unsigned({}), settings(), 'ERR_BEARER_TOKEN_INVALID', 'alg');
    await refused(await sign(good, {}, { alg: 'RS256' }), settings({ algorithms: ['ES256'] }), 'ERR_BEARER_TOKEN_INVALID', 'alg');
    assert.equal(fetches, before);
  });

  it('refuses another audience and another issuer; accepts a listed issuer', async () => {
    await refused(await sign(good, { aud: 'https://other.example.test' }), settings(), 'ERR_BEARER_TOKEN_INVALID', 'aud_mismatch');
    await refused(await sign(good, { iss: 'https://evil.example.test' }), settings(), 'ERR_BEARER_TOKEN_INVALID', 'iss_mismatch');
    const listed = await verifyBearer(await sign(good, { iss: 'https://sts.example.test' }), settings({ issuers: ['https://sts.example.test'] }), deps);
    assert.equal(listed.sub, 'user-alice');
    await refused(await sign(good, {}), settings({ issuers: ['https://sts.example.test'] }), 'ERR_BEARER_TOKEN_INVALID', 'iss_mismatch');
  });

  it('accepts a token with one of several audiences', async () => {
    const verified = await verifyBearer(await sign(good, { aud: ['https://x.example.test', AUDIENCE] }), settings(), deps);
    assert.equal(verified.sub, 'user-alice');
  });

  it('judges exp and nbf by the gateway clock, with the configured skew', async () => {
    await refused(await sign(good, { exp: nowSeconds - 6 }), settings(), 'ERR_BEARER_TOKEN_INVALID', 'expired');
    assert.equal((await verifyBearer(await sign(good, { exp: nowSeconds - 4 }), settings(), deps)).sub, 'user-alice');
    await refused(await sign(good, { nbf: nowSeconds + 60 }), settings(), 'ERR_BEARER_TOKEN_INVALID', 'nbf_mismatch');
    await refused(await sign(good, { exp: undefined }), settings(), 'ERR_BEARER_TOKEN_INVALID', 'exp_missing');
  });

  it('refuses an ID token: by its type, or by the claims only an ID token carries', async () => {
    await refused(await sign(good, {}, { typ: 'id_token+jwt' }), settings(), 'ERR_BEARER_TOKEN_INVALID', 'typ');
    await refused(await sign(good, { nonce: 'n-1' }, { typ: undefined }), settings(), 'ERR_BEARER_TOKEN_INVALID', 'id_token');
    await refused(await sign(good, { at_hash: 'abc' }, { typ: 'JWT' }), settings(), 'ERR_BEARER_TOKEN_INVALID', 'id_token');
    // Untyped, naming no client (an ID token's client is its audience), or for its own client and granting nothing.
    await refused(await sign(good, { client_id: undefined }, { typ: undefined }), settings(), 'ERR_BEARER_TOKEN_INVALID', 'id_token');
    await refused(await sign(good, { client_id: AUDIENCE }, { typ: 'JWT' }), settings(), 'ERR_BEARER_TOKEN_INVALID', 'id_token');
    assert.equal((await verifyBearer(await sign(good, { client_id: undefined, azp: 'cli' }, { typ: 'JWT' }), settings(), deps)).sub, 'user-alice');
    // Typed as an access token by its issuer: believed.
    assert.equal((await verifyBearer(await sign(good, { nonce: 'n-1' }), settings(), deps)).sub, 'user-alice');
    assert.equal((await verifyBearer(await sign(good, {}, { typ: 'application/at+jwt' }), settings(), deps)).sub, 'user-alice');
    assert.equal((await verifyBearer(await sign(good, {}, { typ: 'JWT' }), settings(), deps)).sub, 'user-alice');
  });

  it('refuses what is not a JWT at all', async () => {
    await refused('not-a-token', settings(), 'ERR_BEARER_TOKEN_INVALID', 'malformed');
    await refused('', settings(), 'ERR_BEARER_TOKEN_INVALID', 'malformed');
    await refused('a'.repeat(9000), settings(), 'ERR_BEARER_TOKEN_INVALID', 'malformed');
  });
});
