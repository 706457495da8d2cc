import assert from 'node:assert/strict';
import { signIn, startStack, type Stack } from '../../support/stack.ts';

/**
 * Sign-ins through the real flow against the development identity provider
 * shaped like the providers of docs/identity-providers.md.
 */
describe('identity provider token shapes (real flow)', function () {
  this.timeout(30_000);

  describe('Microsoft Entra ID: group overage', function () {
    let stack: Stack;

    before(async function () {
      stack = await startStack({
        idpClaims: {
          // Past 200 groups Entra leaves `groups` out and points at Microsoft Graph instead.
          groupsClaim: (user) =>
            user.login === 'alice'
              ? {
                  _claim_names: { groups: 'src1' },
                  _claim_sources: { src1: { endpoint: `https://graph.windows.net/tenant/users/${user.sub}/getMemberObjects` } },
                }
              : { groups: [...user.groups] },
          extraClaims: { names: ['_claim_names', '_claim_sources'], values: () => ({}) },
        },
      });
    });
    after(async function () {
      await stack?.close();
    });

    it('fails closed with a clear message and audit reason groups_overage, never as "no groups"', async function () {
      const { response } = await signIn(stack, stack.browser(), 'alice');
      assert.equal(response.status, 403);
      const page = await response.text();
      assert.match(page, /ERR_GROUPS_OVERAGE/);
      assert.match(page, /too many groups/);
      const failed = stack.audit.ofType('signin.failed').at(-1);
      assert.equal(failed?.code, 'ERR_GROUPS_OVERAGE');
      assert.equal(failed?.reason, 'groups_overage');
      assert.equal(stack.backend.requests.length, 0, 'the backend saw nothing');
    });

    it('signs in a user whose token lists the groups', async function () {
      const { response } = await signIn(stack, stack.browser(), 'bob');
      assert.equal(response.status, 200);
    });
  });
});
