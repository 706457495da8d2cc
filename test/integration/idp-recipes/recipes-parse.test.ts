import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import { SECRET_1 } from '../../support/stack.ts';
import { recipes } from './recipes.ts';

/** Each configuration block of docs/identity-providers.md, filled with test values, is a configuration the real parser accepts. */
describe('identity provider recipes: every YAML block of docs/identity-providers.md parses', function () {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-recipes-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The recipe with its placeholders and paths replaced by test values, plus what every configuration needs. */
  function filled(config: Record<string, unknown>): Record<string, unknown> {
    const secretFile = join(dir, 'client-secret');
    writeFileSync(secretFile, 'test-client-secret-0123456789');
    const replace = (value: unknown): unknown => {
      if (typeof value === 'string') return value.replace(/<[^>]+>/g, 'test');
      if (Array.isArray(value)) return value.map(replace);
      if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, replace(inner)]));
      return value;
    };
    const input = replace(config) as Record<string, Record<string, unknown> | undefined>;
    return {
      ...input,
      identityProvider: { ...input['identityProvider'], clientSecretFile: secretFile },
      session: { ...input['session'], secrets: [{ id: 1, secret: SECRET_1 }] },
      apps: input['apps'] ?? [{ id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' }],
      ...(input['connectors'] ? { connectors: { ...input['connectors'], stateDir: join(dir, 'state') } } : {}),
    };
  }

  it('finds a recipe for each provider', () => {
    assert.deepEqual(
      recipes()
        .filter((entry) => entry.variant === 0)
        .map((entry) => entry.provider),
      ['Microsoft Entra ID', 'Okta', 'Google (Workspace)', 'Auth0', 'Keycloak'],
    );
    assert.deepEqual(
      recipes()
        .filter((entry) => entry.variant > 0)
        .map((entry) => entry.provider),
      ['Google (Workspace)'],
      'and the variant for refresh tokens',
    );
  });

  for (const { provider, variant, config } of recipes()) {
    it(`${provider}${variant > 0 ? ` (variant ${variant})` : ''}: accepted by the configuration parser, with its settings as written`, () => {
      const parsed = parseGatewayConfig(filled(config), { baseDir: dir });
      const written = config['identityProvider'] as Record<string, unknown>;
      assert.deepEqual(parsed.identityProvider.scopes, written['scopes']);
      assert.deepEqual(parsed.identityProvider.authorizationParams, written['authorizationParams'] ?? {});
      assert.equal(parsed.session.refresh, (config['session'] as { refresh?: boolean } | undefined)?.refresh ?? false);
      assert.equal(parsed.identityProvider.groupsClaim, written['groupsClaim'] ?? 'groups');
      if (written['groupsEndpoint']) assert.deepEqual(parsed.identityProvider.groupsEndpoint?.url, (written['groupsEndpoint'] as { url: string }).url);
      const mfa = config['mfa'] as { amr?: string[]; acr?: string[] } | undefined;
      if (mfa?.acr) assert.deepEqual(parsed.mfa.acr, mfa.acr);
      if (mfa?.amr) assert.deepEqual(parsed.mfa.amr, mfa.amr);
      const admin = (config['connectors'] as { admin?: { claim?: string } } | undefined)?.admin;
      if (admin?.claim) assert.equal(parsed.connectors?.admin.claim, admin.claim);
    });
  }
});
