import assert from 'node:assert/strict';
import { importJWK, SignJWT, type JWTPayload } from 'jose';
import { createCaFetch } from '../../dev/lib/browser-client.ts';
import { startStack, type Stack } from '../support/stack.ts';

const API = 'https://api.gatehouse.test';
const GROUPS_CLAIM = 'https://gatehouse.test/groups';

/**
 * Groups of a bearer access token: read from identityProvider.groupsClaim (here an Auth0-style namespaced claim,
 * whose dots must not be read as a path), and a token that says its groups were too many to list is refused, never
 * read as a member of no group (which a policy that denies by group would let through).
 */
describe('bearer tokens: groups claim and group overage', function () {
  this.timeout(60_000);
  let stack: Stack;
  let caFetch: ReturnType<typeof createCaFetch>;

  before(async () => {
    stack = await startStack({
      configure: (config) => ({
        ...config,
        identityProvider: { ...config.identityProvider, groupsClaim: GROUPS_CLAIM },
        apps: (config.apps ?? []).map((app) =>
          app.id === 'wiki'
            ? {
                ...app,
                bearer: { audiences: [API] },
                identityHeaders: { 'X-User': 'sub', 'X-User-Groups': 'groups' } as const,
                policies: [{ name: 'no contractors', conditions: { groups: { include: ['contractors'] } }, grant: { block: true } }],
              }
            : app,
        ),
      }),
    });
    caFetch = createCaFetch({ ca: [stack.ca.certPem] });
  });
  after(async () => {
    await caFetch?.close();
    await stack?.close();
  });

  /** An access token as the provider would sign it, with its key. */
  async function token(claims: JWTPayload): Promise<string> {
    const jwk = stack.idp.signingKey;
    const header = { alg: jwk.alg ?? 'RS256', kid: jwk.kid, typ: 'at+jwt' };
    const now = Math.floor(stack.clock() / 1000);
    return new SignJWT({
      iss: stack.idp.issuer,
      aud: API,
      sub: 'user-carol',
      client_id: 'report-cli',
      scope: 'reports:read',
      iat: now,
      exp: now + 600,
      ...claims,
    })
      .setProtectedHeader(header)
      .sign(await importJWK(jwk, header.alg));
  }

  async function call(bearer: string) {
    const before = stack.backend.requests.length;
    const response = await caFetch.fetch(`${stack.urls.wiki}/reports`, { headers: { accept: 'application/json', authorization: `Bearer ${bearer}` } });
    const body = await response.text();
    const forwarded = stack.backend.requests.length > before ? stack.backend.requests.at(-1) : undefined;
    return { status: response.status, challenge: response.headers.get('www-authenticate'), body, forwarded };
  }

  it('reads the groups from the configured namespaced claim, as a whole name', async () => {
    const staff = await call(await token({ [GROUPS_CLAIM]: ['staff'], groups: ['contractors'] }));
    assert.equal(staff.status, 200, staff.body);
    assert.equal(staff.forwarded?.headers['x-user'], 'user-carol');
    assert.match(String(staff.forwarded?.headers['x-user-groups']), /staff/);
    assert.doesNotMatch(String(staff.forwarded?.headers['x-user-groups']), /contractors/, 'the plain `groups` claim is not the configured one');

    const contractor = await call(await token({ [GROUPS_CLAIM]: ['contractors'] }));
    assert.equal(contractor.status, 403);
    assert.equal((JSON.parse(contractor.body) as { error: { code: string } }).error.code, 'ERR_POLICY_DENIED');
  });

  for (const [what, claims] of [
    ['_claim_names.groups (distributed claims)', { _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: 'https://graph.windows.net/x' } } }],
    ['hasgroups: true', { hasgroups: true }],
  ] as const) {
    it(`refuses a token with group overage (${what}): 403 ERR_GROUPS_OVERAGE, audited, nothing forwarded`, async () => {
      const answer = await call(await token(claims));
      assert.equal(answer.status, 403, answer.body);
      assert.equal((JSON.parse(answer.body) as { error: { code: string } }).error.code, 'ERR_GROUPS_OVERAGE');
      assert.match(answer.challenge ?? '', /^Bearer realm="wiki", error="insufficient_scope"$/);
      assert.equal(answer.forwarded, undefined, 'a member of "no group" would have passed the "no contractors" policy');
      const event = stack.audit.ofType('bearer.rejected').at(-1);
      assert.equal(event?.code, 'ERR_GROUPS_OVERAGE');
      assert.equal(event?.reason, 'groups_overage');
    });
  }
});
