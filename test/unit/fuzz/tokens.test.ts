import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as jose from 'jose';
import { verifyBearer, type BearerVerifierDeps } from '../../../src/bearer/verify-bearer.ts';
import { bearerSchema } from '../../../src/config/bearer-schema.ts';
import { GatehouseError } from '../../../src/errors/index.ts';
import { MemorySessionStore } from '../../../src/session/session-store.ts';
import { IdpKeys } from '../../../src/signin/idp-keys.ts';
import { BACKCHANNEL_LOGOUT_EVENT, verifyLogoutToken } from '../../../src/signin/logout-token.ts';
import type { OidcClient } from '../../../src/signin/oidc-client.ts';
import { fuzzTimeout, runs } from '../../support/fuzz-runs.ts';

/**
 * Tokens signed by the identity provider, presented by anyone: access tokens (`Authorization: Bearer`) and
 * back-channel logout tokens. Junk is refused with a GatehouseError whose code the caller maps, never another
 * exception; and no change to a valid token — a character, a segment, the header, the claims under the old
 * signature — makes it verify.
 */

const ISSUER = 'https://idp.example.test';
const AUDIENCE = 'https://api.example.test';
const CLIENT = 'gatehouse';
const NOW = Date.UTC(2026, 0, 31, 8, 0, 0);
const NOW_S = Math.floor(NOW / 1000);
const SETTINGS = bearerSchema.parse({ audiences: [AUDIENCE] });
const BEARER_CODES = new Set(['ERR_BEARER_TOKEN_INVALID', 'ERR_BEARER_SCOPE']);

type Mutation =
  | { kind: 'flip'; at: number; char: string }
  | { kind: 'delete'; at: number }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'segment-end'; segment: number; char: string }
  | { kind: 'header'; header: Record<string, unknown> }
  | { kind: 'claims'; claims: Record<string, unknown> };

const B64 = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=. ');
const MUTATION: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), char: B64 }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(2), b: fc.nat(2) }),
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('segment-end' as const), segment: fc.nat(2), char: B64 }) },
  fc.record({
    kind: fc.constant('header' as const),
    header: fc.record(
      {
        alg: fc.constantFrom('none', 'HS256', 'RS512', 'ES256', 'PS256', 'RS256'),
        kid: fc.constantFrom('k1', 'k2', ''),
        typ: fc.constantFrom('at+jwt', 'JWT', 'logout+jwt'),
      },
      { requiredKeys: ['alg'] },
    ),
  }),
  fc.record({
    kind: fc.constant('claims' as const),
    claims: fc.record(
      {
        sub: fc.constantFrom('user-mallory', ''),
        aud: fc.constantFrom(AUDIENCE, CLIENT, 'other'),
        exp: fc.integer({ min: NOW_S - 10, max: NOW_S + 10 ** 6 }),
        scope: fc.constant('admin'),
      },
      { requiredKeys: [] },
    ),
  }),
);

const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

function mutate(token: string, mutations: readonly Mutation[]): string {
  let out = token;
  for (const mutation of mutations) {
    const parts = out.split('.');
    const at = (index: number): number => index % Math.max(1, out.length);
    if (mutation.kind === 'flip') out = out.slice(0, at(mutation.at)) + mutation.char + out.slice(at(mutation.at) + 1);
    else if (mutation.kind === 'delete') out = out.slice(0, at(mutation.at)) + out.slice(at(mutation.at) + 1);
    else if (mutation.kind === 'swap') {
      [parts[mutation.a], parts[mutation.b]] = [parts[mutation.b] ?? '', parts[mutation.a] ?? ''];
      out = parts.join('.');
    } else if (mutation.kind === 'segment-end') {
      const part = parts[mutation.segment] ?? '';
      parts[mutation.segment] = `${part.slice(0, -1)}${mutation.char}`;
      out = parts.join('.');
    } else {
      // The claims or header re-encoded with a change, the old signature kept.
      const index = mutation.kind === 'header' ? 0 : 1;
      let decoded: Record<string, unknown>;
      try {
        decoded = JSON.parse(Buffer.from(parts[index] ?? '', 'base64url').toString()) as Record<string, unknown>;
      } catch {
        continue;
      }
      parts[index] = encode({ ...decoded, ...(mutation.kind === 'header' ? mutation.header : mutation.claims) });
      out = parts.join('.');
    }
  }
  return out;
}

const JUNK = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc
    .array(
      fc.base64String({ maxLength: 60 }).map((s) => s.replaceAll('=', '')),
      { minLength: 1, maxLength: 5 },
    )
    .map((parts) => parts.join('.')),
  fc.tuple(fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 })).map(([h, p]) => `${encode({ h })}.${encode({ p })}.`),
  fc.jsonValue({ maxDepth: 2 }).map((h) => `${Buffer.from(JSON.stringify(h)).toString('base64url')}.e30.c2ln`),
  fc.string({ maxLength: 9000, unit: 'binary-ascii' }),
);

describe('fuzz: access tokens and logout tokens', function () {
  this.timeout(fuzzTimeout(60_000));
  let keys: IdpKeys;
  let privateKey: jose.CryptoKey;
  let accessToken: string;
  let logoutToken: string;
  let bearerDeps: BearerVerifierDeps;

  before(async () => {
    const pair = await jose.generateKeyPair('RS256', { extractable: true });
    privateKey = pair.privateKey;
    const jwks = JSON.stringify({ keys: [{ ...(await jose.exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] });
    keys = new IdpKeys({
      jwksUri: () => Promise.resolve(new URL(`${ISSUER}/jwks`)),
      fetch: () => Promise.resolve(new Response(jwks, { headers: { 'content-type': 'application/json' } })),
      timeoutSeconds: 5,
      refetchIntervalMs: 0,
    });
    bearerDeps = { keys, issuer: () => Promise.resolve(ISSUER), clock: () => NOW, clockToleranceSeconds: 5 };
    accessToken = await new jose.SignJWT({ iss: ISSUER, aud: AUDIENCE, iat: NOW_S - 10, exp: NOW_S + 300, sub: 'user-alice', client_id: 'cli', scope: 'read' })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'at+jwt' })
      .sign(privateKey);
    logoutToken = await new jose.SignJWT({ iss: ISSUER, aud: CLIENT, iat: NOW_S - 5, jti: 'j1', sid: 's1', events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'logout+jwt' })
      .sign(privateKey);
    // The originals verify: the properties below are about what changed.
    assert.equal((await verifyBearer(accessToken, SETTINGS, bearerDeps)).sub, 'user-alice');
    assert.equal((await verifyLogoutToken(logoutToken, logoutDeps())).sid, 's1');
  });

  function logoutDeps(): Parameters<typeof verifyLogoutToken>[1] {
    const oidc = {
      keys,
      tokenChecks: () => Promise.resolve({ issuer: ISSUER, audience: CLIENT, algorithms: ['RS256'], clockToleranceSeconds: 5 }),
    } as unknown as OidcClient;
    return { oidc, store: new MemorySessionStore(), clock: () => NOW };
  }

  async function bearerRefused(token: string): Promise<void> {
    await assert.rejects(verifyBearer(token, SETTINGS, bearerDeps), (error: unknown) => {
      assert.ok(error instanceof GatehouseError, `untyped: ${String(error)}`);
      assert.ok(BEARER_CODES.has(error.code), error.code);
      return true;
    });
  }

  async function logoutRefused(token: string): Promise<void> {
    await assert.rejects(verifyLogoutToken(token, logoutDeps()), (error: unknown) => {
      assert.ok(error instanceof GatehouseError, `untyped: ${String(error)}`);
      assert.equal(error.code, 'ERR_BAD_REQUEST');
      return true;
    });
  }

  it('junk is refused with a typed error, as an access token and as a logout token', async () => {
    await fc.assert(
      fc.asyncProperty(JUNK, async (token) => {
        await bearerRefused(token);
        await logoutRefused(token);
      }),
      runs(300),
    );
  });

  it('a mutated access token never verifies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(MUTATION, { minLength: 1, maxLength: 3 }), async (mutations) => {
        const token = mutate(accessToken, mutations);
        fc.pre(token !== accessToken);
        await bearerRefused(token);
      }),
      runs(300),
    );
  });

  it('a mutated logout token never verifies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(MUTATION, { minLength: 1, maxLength: 3 }), async (mutations) => {
        const token = mutate(logoutToken, mutations);
        fc.pre(token !== logoutToken);
        await logoutRefused(token);
      }),
      runs(300),
    );
  });
});
