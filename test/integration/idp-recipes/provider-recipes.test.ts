import assert from 'node:assert/strict';
import type { DevUser, StartIdentityProviderOptions } from '../../../dev/lib/identity-provider/index.ts';
import type { GatewayConfigInput } from '../../../src/config/schema.ts';
import { signIn, startStack, type Stack } from '../../support/stack.ts';
import { recipe } from './recipes.ts';

const AUTH0_GROUPS = 'https://gatehouse.example.com/groups';
const AUTH0_ROLES = 'https://gatehouse.example.com/roles';

type AppInput = NonNullable<GatewayConfigInput['apps']>[number];
type Policies = NonNullable<AppInput['policies']>;

interface ProviderCase {
  /** The heading of the recipe in docs/identity-providers.md. */
  readonly recipe: string;
  readonly title: string;
  /** The development identity provider shaped like this provider's ID tokens. */
  readonly claims: Pick<StartIdentityProviderOptions, 'extraClaims' | 'groupsClaim' | 'acr'>;
  /** Settings on top of the recipe (a documented variant). */
  readonly variant?: Record<string, unknown>;
  /** Policies for the wiki app when the recipe has none. */
  readonly policies?: Policies;
  /** Signs in through the real flow and may reach the backend, with these groups in its identity header. */
  readonly allowed: { readonly user: string; readonly path: string; readonly groups: readonly string[] };
  /** Signs in through the real flow and is refused by policy. */
  readonly denied: { readonly user: string; readonly path: string };
}

const STAFF_AND_MFA: Policies = [
  { name: 'staff only', conditions: { groups: { exclude: ['staff'] } }, grant: { block: true } },
  { name: 'mfa for admin', conditions: { paths: ['/admin/'] }, grant: { mfa: true } },
];

/**
 * Keycloak: the Group Membership mapper puts `groups` in the ID token whatever the scopes, realm roles are in
 * `realm_access.roles`, and the ACR-to-LoA mapping reports `1` for a password and `2` for OTP.
 */
const KEYCLOAK: ProviderCase['claims'] = {
  groupsClaim: () => ({}),
  extraClaims: {
    names: ['groups', 'realm_access'],
    values: (user: DevUser) => ({ groups: [...user.groups], realm_access: { roles: ['default-roles-corp', ...(user.roles ?? [])] } }),
  },
  acr: { password: '1', mfa: '2' },
};

const CASES: ProviderCase[] = [
  {
    recipe: 'Okta',
    title: 'Okta: groups claim, amr mfa',
    // Okta: `groups` a list of names, `amr` with `mfa` after a second factor (the test provider's amr for alice).
    claims: {},
    policies: STAFF_AND_MFA,
    allowed: { user: 'alice', path: '/admin/', groups: ['admins', 'staff'] },
    denied: { user: 'mallory', path: '/' },
  },
  {
    recipe: 'Google',
    title: 'Google: no groups, the hd claim in the recipe policy',
    claims: {
      groupsClaim: () => ({}),
      extraClaims: { names: ['hd'], values: (user: DevUser) => (user.login === 'mallory' ? {} : { hd: 'example.com' }) },
    },
    allowed: { user: 'alice', path: '/', groups: [] },
    denied: { user: 'mallory', path: '/' },
  },
  {
    recipe: 'Auth0',
    title: 'Auth0: namespaced groups and roles claims',
    claims: {
      // A post-login Action's claims; a plain `groups` with other values proves the namespaced one is read.
      groupsClaim: () => ({}),
      extraClaims: {
        names: [AUTH0_GROUPS, AUTH0_ROLES, 'groups'],
        values: (user: DevUser) => ({ [AUTH0_GROUPS]: [...user.groups], [AUTH0_ROLES]: [...(user.roles ?? [])], groups: ['not-from-auth0'] }),
      },
    },
    policies: STAFF_AND_MFA,
    allowed: { user: 'alice', path: '/admin/', groups: ['admins', 'staff'] },
    denied: { user: 'mallory', path: '/' },
  },
  {
    recipe: 'Keycloak',
    title: 'Keycloak: groups mapper, acr 2 counting as MFA',
    claims: KEYCLOAK,
    // With `mfa.amr: []`, alice's `amr` counts for nothing: only acr `2` lets her into /admin/ without a step-up.
    policies: STAFF_AND_MFA,
    allowed: { user: 'alice', path: '/admin/', groups: ['admins', 'staff'] },
    denied: { user: 'mallory', path: '/' },
  },
  {
    recipe: 'Keycloak',
    title: 'Keycloak with groupsClaim: realm_access.roles (realm roles as groups)',
    claims: KEYCLOAK,
    variant: { groupsClaim: 'realm_access.roles' },
    policies: [{ name: 'realm admins only', conditions: { groups: { exclude: ['admin'] } }, grant: { block: true } }],
    allowed: { user: 'alice', path: '/', groups: ['default-roles-corp', 'admin'] },
    denied: { user: 'bob', path: '/' },
  },
];

/** The stack's configuration with the recipe's identity provider settings, MFA settings and policies, pointed at the test provider. */
function withRecipe(config: GatewayConfigInput, providerCase: ProviderCase): GatewayConfigInput {
  const written = recipe(providerCase.recipe).config;
  const { issuer: _issuer, clientId: _clientId, clientSecretFile: _file, ...idp } = written['identityProvider'] as Record<string, unknown>;
  const recipeApp = (written['apps'] as AppInput[] | undefined)?.[0];
  const policies = recipeApp?.policies ?? providerCase.policies ?? [];
  return {
    ...config,
    identityProvider: { ...config.identityProvider, ...idp, ...providerCase.variant },
    ...(written['mfa'] ? { mfa: written['mfa'] } : {}),
    apps: (config.apps ?? []).map((app) =>
      app.id === 'wiki' ? { ...app, identityHeaders: { 'X-User': 'sub', 'X-User-Groups': 'groups', 'X-User-Acr': 'acr' } as const, policies } : app,
    ),
  };
}

/**
 * Each recipe of docs/identity-providers.md, read from the document itself, signs users in through the real flow
 * against the development identity provider shaped like that provider's ID tokens: the identity headers the backend
 * gets, and one allow and one deny decision of conditional access.
 */
describe('identity provider recipes: sign-in through the real flow with each provider token shape', function () {
  this.timeout(60_000);

  for (const providerCase of CASES) {
    describe(providerCase.title, function () {
      let stack: Stack;
      before(async function () {
        stack = await startStack({ idpClaims: providerCase.claims, configure: (config) => withRecipe(config, providerCase) });
      });
      after(async function () {
        await stack?.close();
      });

      it(`lets ${providerCase.allowed.user} in, with the identity headers the provider's claims give`, async function () {
        const { user, path, groups } = providerCase.allowed;
        const { response } = await signIn(stack, stack.browser(), user, path);
        assert.equal(response.status, 200, await response.text());
        const headers = stack.backend.requests.at(-1)?.headers ?? {};
        const expected = stack.idp.users.find((entry) => entry.login === user);
        assert.equal(headers['x-user'], expected?.sub);
        const forwarded = String(headers['x-user-groups'] ?? '')
          .split(',')
          .map((group) => group.trim())
          .filter((group) => group.length > 0);
        assert.deepEqual([...forwarded].sort(), [...groups].sort());
        if (providerCase.claims.acr) assert.equal(headers['x-user-acr'], providerCase.claims.acr.mfa);
        assert.equal(stack.audit.ofType('signin.succeeded').at(-1)?.user?.sub, expected?.sub);
      });

      it(`refuses ${providerCase.denied.user} by policy`, async function () {
        const before = stack.backend.requests.length;
        const { response } = await signIn(stack, stack.browser(), providerCase.denied.user, providerCase.denied.path);
        assert.equal(response.status, 403);
        assert.match(await response.text(), /ERR_POLICY_DENIED/);
        assert.equal(stack.backend.requests.length, before, 'the backend saw nothing');
        assert.equal(stack.audit.ofType('access.denied').at(-1)?.code, 'ERR_POLICY_DENIED');
      });
    });
  }
});
