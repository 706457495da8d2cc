import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interpolateEnv } from '../../../src/config/env-interpolation.ts';
import { loadGatewayConfigFile } from '../../../src/config/load-file.ts';
import { GatehouseConfigError } from '../../../src/errors/index.ts';

const SECRET = 'a-very-long-session-secret-of-at-least-32-chars';

function issuesOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof GatehouseConfigError, `expected GatehouseConfigError, got ${String(error)}`);
    return [...error.issues];
  }
  return assert.fail('accepted');
}

describe('config: ${VAR} in the file’s string values', () => {
  it('replaces ${VAR} and ${VAR:-default} (the default also for an empty variable), keeps $${ as a literal ${ and a lone $', () => {
    const { data } = interpolateEnv(
      {
        a: '${A}',
        b: 'x-${A}-${B:-fallback}-y',
        c: '${EMPTY:-used}',
        d: 'pa$$word $5 $${NOT_A_VAR} $${A}',
        list: ['${A}', 3, true, null],
        nested: { e: '${EMPTY}' },
      },
      { A: 'one', EMPTY: '' },
    );
    assert.deepEqual(data, {
      a: 'one',
      b: 'x-one-fallback-y',
      c: 'used',
      d: 'pa$$word $5 ${NOT_A_VAR} ${A}',
      list: ['one', 3, true, null],
      nested: { e: '' },
    });
  });

  it('names every unset variable and where it is used, at once', () => {
    assert.deepEqual(
      issuesOf(() => interpolateEnv({ identityProvider: { clientSecret: '${OIDC_SECRET}' }, apps: [{ internalUrl: 'http://${BACKEND}:80' }] }, {})),
      [
        'identityProvider.clientSecret: environment variable OIDC_SECRET is not set (used as ${OIDC_SECRET}; give it a value, or a default with ${OIDC_SECRET:-default})',
        'apps[0].internalUrl: environment variable BACKEND is not set (used as ${BACKEND}; give it a value, or a default with ${BACKEND:-default})',
      ],
    );
  });

  it('refuses a reference it cannot read instead of keeping it as text', () => {
    const issues = issuesOf(() => interpolateEnv({ a: '${not-a-name}', b: 'open ${A' }, { A: 'x' }));
    assert.equal(issues.length, 2);
    assert.match(issues[0]!, /^a: "\$\{not-a-name\}" is not a variable reference/);
    assert.match(issues[1]!, /^b: "\$\{A" is not a variable reference/);
  });

  describe('in a file', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'gatehouse-env-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const file = (yaml: string): string => {
      writeFileSync(join(dir, 'gatehouse.yaml'), yaml);
      return join(dir, 'gatehouse.yaml');
    };
    const config = (clientSecret: string, extra = ''): string =>
      file(`identityProvider:
  issuer: https://login.example.com
  clientId: gatehouse
  clientSecret: ${clientSecret}
session:
  secrets: [{ id: 1, secret: "\${SESSION_SECRET}" }]
apps:
  - id: wiki
    externalUrl: https://wiki.example.com
    internalUrl: http://10.0.0.5:8080
${extra}`);

    it('takes secrets from the environment, so that none sits in the file', () => {
      const loaded = loadGatewayConfigFile(config('"${OIDC_SECRET}"'), { OIDC_SECRET: 'from-env', SESSION_SECRET: SECRET });
      assert.equal(loaded.identityProvider.clientSecret, 'from-env');
      assert.equal(loaded.session.secrets[0]?.secret, SECRET);
    });

    it('never lets a value add structure: a variable holding YAML stays one string', () => {
      const injected = 'x\napps: []\nserver: { port: 1 }';
      const loaded = loadGatewayConfigFile(config('"${OIDC_SECRET}"'), { OIDC_SECRET: injected, SESSION_SECRET: SECRET });
      assert.equal(loaded.identityProvider.clientSecret, injected);
      assert.equal(loaded.apps.length, 1);
      assert.equal(loaded.server.port, 8443);
    });

    it('says which variable an empty or too short secret came from', () => {
      const issues = issuesOf(() => loadGatewayConfigFile(config('"${OIDC_SECRET:-}"'), { SESSION_SECRET: 'short' }));
      assert.deepEqual(issues, [
        'identityProvider.clientSecret: must not be empty (from ${OIDC_SECRET}: ${OIDC_SECRET} is unset or empty where gatehouse runs)',
        'session.secrets[0].secret: must be at least 32 characters (generate one with: openssl rand -base64 48) (from ${SESSION_SECRET})',
      ]);
    });

    it('says which variable named a file that cannot be read', () => {
      const issues = issuesOf(() =>
        loadGatewayConfigFile(
          file(`identityProvider:
  issuer: https://login.example.com
  clientId: gatehouse
  clientSecretFile: "\${SECRETS_DIR:-}/client.secret"
session:
  secrets: [{ id: 1, secret: ${SECRET} }]
apps:
  - id: wiki
    externalUrl: https://wiki.example.com
    internalUrl: http://10.0.0.5:8080
`),
          {},
        ),
      );
      assert.equal(issues.length, 1);
      assert.match(
        issues[0]!,
        /^identityProvider\.clientSecretFile: cannot read "\/client\.secret" \(ENOENT\) \(from \$\{SECRETS_DIR\}: \$\{SECRETS_DIR\} is unset or empty/,
      );
    });
  });
});
