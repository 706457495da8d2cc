import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import { createCaFetch } from '../../dev/lib/browser-client.ts';
import { IDP_JWKS_REFETCH_MIN_INTERVAL_MS } from '../../src/limits.ts';
import { ADMIN_CONNECTORS_PATH } from '../../src/protocol/connector-api.ts';
import type { IdpFetch } from '../../src/signin/oidc-client.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

/**
 * The identity provider replaces its signing key at once (the old one is no
 * longer published): the gateway, whose cached key set holds only the old
 * key, must fetch the set again on the first token naming the new one
 * instead of refusing sign-ins until a cooldown has passed.
 */
describe('identity provider key rotation', function () {
  this.timeout(60_000);
  let stack: Stack;
  let upstream: ReturnType<typeof createCaFetch>;
  const jwksFetches: number[] = [];

  before(async () => {
    stack = await startStack({
      gatewayOptions: (idp) => {
        upstream = createCaFetch({ ca: idp.caPem });
        const fetch: IdpFetch = (url, init) => {
          if (url.endsWith('/jwks')) jwksFetches.push(Date.now());
          return upstream.fetch(url, init);
        };
        return { idpFetch: fetch };
      },
    });
  });
  after(async () => {
    await stack.close();
    await upstream.close();
  });

  it('signs the next user in at once after an abrupt rotation', async () => {
    const before = stack.browser();
    await signIn(stack, before, 'alice', '/first');
    assert.equal((await before.request(`${stack.urls.wiki}/first`)).status, 200, 'signed in with the first key');
    const fetchesBefore = jwksFetches.length;
    assert.ok(fetchesBefore >= 1, 'the key set was fetched for the first sign-in');

    const oldKid = stack.idp.signingKey.kid;
    const newKey = await stack.idp.rotateSigningKey();
    assert.notEqual(newKey.kid, oldKid);

    const after = stack.browser();
    const { response } = await signIn(stack, after, 'bob', '/second');
    assert.equal(response.status, 200, `signed in right after the rotation: ${response.status} ${JSON.stringify(stack.audit.ofType('signin.failed'))}`);
    assert.equal(stack.audit.ofType('signin.failed').length, 0, 'no sign-in failed');
    assert.equal(jwksFetches.length, fetchesBefore + 1, 'the key set was fetched again once');
  });

  it('fetches the keys at most once per interval however many tokens name unknown keys', async () => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const poster = createCaFetch({ ca: stack.ca.certPem });
    try {
      const started = Date.now();
      const fetchesBefore = jwksFetches.length;
      const post = async (): Promise<number> => {
        const now = Math.floor(stack.clock() / 1000);
        const token = await new SignJWT({ iss: stack.idp.issuer, aud: 'gatehouse-test', iat: now, jti: randomBytes(8).toString('hex'), sid: 's', events: {} })
          .setProtectedHeader({ alg: 'RS256', kid: randomBytes(8).toString('hex'), typ: 'logout+jwt' })
          .sign(privateKey);
        const response = await poster.fetch(`${stack.urls.wiki}/.gatehouse/backchannel-logout`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ logout_token: token }).toString(),
        });
        await response.arrayBuffer();
        return response.status;
      };
      const statuses = await Promise.all(Array.from({ length: 40 }, post));
      statuses.push(...(await Promise.all(Array.from({ length: 40 }, post))));
      assert.ok(statuses.every((status) => status === 400));
      const elapsed = Date.now() - started;
      const fetches = jwksFetches.length - fetchesBefore;
      assert.ok(fetches <= 1 + Math.ceil(elapsed / IDP_JWKS_REFETCH_MIN_INTERVAL_MS), `${fetches} fetches in ${elapsed} ms`);
      assert.ok(stack.audit.ofType('session.backchannel_logout').every((event) => event.reason === 'unknown_key'));
    } finally {
      await poster.close();
    }
  });
});

describe('identity provider key rotation: connector administrators', function () {
  this.timeout(60_000);
  let admin: Stack;
  let upstream: ReturnType<typeof createCaFetch>;
  const adminJwksFetches: number[] = [];

  before(async () => {
    admin = await startStack({
      connectors: true,
      gatewayOptions: (idp) => {
        upstream = createCaFetch({ ca: idp.caPem });
        const fetch: IdpFetch = (url, init) => {
          if (url.endsWith('/jwks')) adminJwksFetches.push(Date.now());
          return upstream.fetch(url, init);
        };
        return { idpFetch: fetch };
      },
    });
  });
  after(async () => {
    await admin.close();
    await upstream.close();
  });

  it("accepts an administrator's token signed with the new key at once, from the same cached key set", async () => {
    const client = createCaFetch({ ca: admin.gateway.connectors!.ca.certPem });
    try {
      const list = async (token: string): Promise<number> => {
        const response = await client.fetch(`${admin.connectorUrl}${ADMIN_CONNECTORS_PATH}`, { headers: { authorization: `Bearer ${token}` } });
        await response.arrayBuffer();
        return response.status;
      };
      assert.equal(await list(await admin.adminToken('alice')), 200, 'the admin API answers with the current key');
      const fetchesBefore = adminJwksFetches.length;
      await admin.idp.rotateSigningKey();
      // Within the refetch interval of the last fetch: a separate key cache would refuse this as an unknown key.
      const status = await list(await admin.adminToken('alice'));
      assert.equal(status, 200, JSON.stringify(admin.audit.ofType('connector.refused').at(-1)));
      assert.equal(adminJwksFetches.length, fetchesBefore + 1, 'the key set was fetched again once');
    } finally {
      await client.close();
    }
  });
});
