import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDevCa } from '../../dev/lib/dev-ca.ts';
import { startIdentityProvider, type DevIdentityProvider } from '../../dev/lib/identity-provider/index.ts';
import { startNode } from '../../dev/lib/processes.ts';

const CLI = fileURLToPath(new URL('../../src/cli/gatehouse.ts', import.meta.url));
const SECRET = 'a-test-secret-that-is-long-enough-0123456789';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The real CLI, with an environment of its own (GATEHOUSE_CONFIG and the file's variables cleared unless given). */
async function gatehouse(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const running = startNode(CLI, args, { env: { GATEHOUSE_CONFIG: '', GATEHOUSE_STORE_URL: '', GATEHOUSE_CA_KEY: '', ...env } });
  const [code] = (await once(running.child, 'exit')) as [number | null];
  return { code, stdout: running.stdout(), stderr: running.stderr() };
}

describe('gatehouse check', function () {
  this.timeout(60_000);
  let dir: string;
  const write = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const config = (options: { idp?: string; secret?: string; server?: string; apps?: string; extra?: string } = {}): string =>
    `server: { host: 127.0.0.1, port: 0${options.server ?? ''} }
identityProvider:
  issuer: https://login.example.com
  clientId: gatehouse
${options.idp ?? '  clientSecret: s3cret'}
session:
  secrets: [{ id: 1, secret: ${options.secret ?? SECRET} }]
apps:
${
  options.apps ??
  `  - id: wiki
    externalUrl: https://wiki.example.com
    internalUrl: http://127.0.0.1:9`
}
${options.extra ?? ''}`;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-check-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the file GATEHOUSE_CONFIG names, and its secrets from ${VAR}s; an unset variable is named with its key', async () => {
    const file = write('gatehouse.yaml', config({ idp: '  clientSecret: ${OIDC_CLIENT_SECRET}', secret: '"${SESSION_SECRET}"' }));
    const valid = await gatehouse(['check'], { GATEHOUSE_CONFIG: file, OIDC_CLIENT_SECRET: 'from-the-environment', SESSION_SECRET: SECRET });
    assert.equal(valid.code, 0, valid.stderr);
    assert.match(valid.stdout, /gatehouse\.yaml: valid \(1 app\)/);

    const unset = await gatehouse(['check', '--config', file]);
    assert.equal(unset.code, 1);
    assert.match(unset.stderr, /identityProvider\.clientSecret: environment variable OIDC_CLIENT_SECRET is not set/);
    assert.match(unset.stderr, /session\.secrets\[0\]\.secret: environment variable SESSION_SECRET is not set/);

    const empty = await gatehouse(['check', '--config', file], { OIDC_CLIENT_SECRET: '', SESSION_SECRET: SECRET });
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /identityProvider\.clientSecret: must not be empty \(from \$\{OIDC_CLIENT_SECRET\}: \$\{OIDC_CLIENT_SECRET\} is unset or empty/);

    const usage = await gatehouse(['check']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--config FILE \(or GATEHOUSE_CONFIG\) is required/);
  });

  it('answers typos with the key meant, and says "is required" for a missing key', async () => {
    const file = write(
      'typos.yaml',
      config({
        idp: '  clientSecert: s3cret\n  scopse: [openid]',
        apps: `  - id: wiki
    externalURL: https://wiki.example.com
    internalUrl: http://127.0.0.1:9`,
      }),
    );
    const run = await gatehouse(['check', '--config', file]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /identityProvider\.clientSecert: unknown key, did you mean "clientSecret"\?/);
    assert.match(run.stderr, /identityProvider\.scopse: unknown key, did you mean "scopes"\?/);
    assert.match(run.stderr, /apps\[0\]\.externalURL: unknown key, did you mean "externalUrl"\?/);
    assert.match(run.stderr, /apps\[0\]\.externalUrl: is required/);
    assert.doesNotMatch(run.stderr, /received undefined/);
  });

  it('names an app CA file that cannot be read, with every other problem', async () => {
    const file = write(
      'ca.yaml',
      config({
        idp: '  clientSecretFile: missing-client.secret',
        apps: `  - id: wiki
    externalUrl: https://wiki.example.com
    internalUrl: https://127.0.0.1:9
    internalTls: { caFile: missing-ca.pem }`,
      }),
    );
    const run = await gatehouse(['check', '--config', file]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /apps\[0\]\.internalTls\.caFile: cannot read "missing-ca\.pem" \(ENOENT\)/);
    assert.match(run.stderr, /identityProvider\.clientSecretFile: cannot read "missing-client\.secret" \(ENOENT\)/);
  });

  it('warns when the server certificate does not name an app’s host, and refuses it with --strict', async () => {
    const ca = createDevCa();
    const server = ca.issueServerCertificate(['wiki.example.com', '*.apps.example.com']);
    write('tls.crt', server.certPem);
    write('tls.key', server.keyPem);
    const file = write(
      'names.yaml',
      config({
        server: ', tls: { certFile: tls.crt, keyFile: tls.key }',
        apps: `  - id: wiki
    externalUrl: https://wiki.example.com
    internalUrl: http://127.0.0.1:9
  - id: grafana
    externalUrl: https://grafana.apps.example.com
    internalUrl: http://127.0.0.1:10
  - id: docs
    externalUrl: https://docs.example.com
    internalUrl: http://127.0.0.1:11`,
      }),
    );
    const lenient = await gatehouse(['check', '--config', file]);
    assert.equal(lenient.code, 0, lenient.stderr);
    assert.match(lenient.stderr, /warning: apps\[2\]\.externalUrl: the server certificate \(server\.tls\) does not name "docs\.example\.com"/);
    assert.doesNotMatch(lenient.stderr, /wiki\.example\.com"|grafana/);
    assert.match(lenient.stdout, /valid \(3 apps, 1 warning\)/);
    const strict = await gatehouse(['check', '--config', file, '--strict']);
    assert.equal(strict.code, 1);
    assert.match(strict.stderr, /1 warning, refused with --strict/);
  });

  it('serve refuses with the same words check uses, before it opens anything', async () => {
    write('a-file', 'x');
    const file = write('state.yaml', config({ extra: 'connectors: { listen: { host: 127.0.0.1, port: 0 }, stateDir: a-file/state }' }));
    const serve = await gatehouse(['serve', '--config', file]);
    assert.equal(serve.code, 1, serve.stderr);
    assert.match(serve.stderr, /connectors\.stateDir: ".*\/a-file\/state" cannot be created: ".*\/a-file" is not a folder/);
    assert.doesNotMatch(serve.stderr, /listening/);
  });

  describe('--online', () => {
    let idp: DevIdentityProvider;
    before(async () => {
      idp = await startIdentityProvider({
        clients: [{ client_id: 'gatehouse', client_secret: 's3cret', redirect_uris: ['https://wiki.example.com/.gatehouse/callback'] }],
      });
    });
    after(() => idp.close());

    it('runs discovery with the configured CA and prints what the provider offers', async () => {
      write('idp-ca.pem', idp.caPem);
      const file = write(
        'online.yaml',
        config({ idp: '  clientSecret: s3cret\n  caFile: idp-ca.pem\n  scopes: [openid, email, not-a-scope]' }).replace(
          'https://login.example.com',
          idp.issuer,
        ),
      );
      const run = await gatehouse(['check', '--config', file, '--online']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`issuer +${idp.issuer.replace(/[.]/g, '\\.')}\\n`));
      assert.match(run.stdout, /authorization endpoint +https:\/\/127\.0\.0\.1:\d+\//);
      assert.match(run.stdout, /token endpoint +https:\/\//);
      assert.match(run.stdout, /PKCE S256 +supported/);
      assert.match(run.stdout, /scopes +openid \(supported\), email \(supported\), not-a-scope \(NOT supported\)/);
      assert.match(run.stderr, /warning: identityProvider\.scopes: "not-a-scope" not in the provider's scopes_supported/);
      assert.match(run.stdout, /valid \(1 app, 1 warning\)/);

      // Without --online nothing is fetched: the same file is valid with the provider gone.
      const offline = await gatehouse(['check', '--config', file]);
      assert.equal(offline.code, 0, offline.stderr);
      assert.doesNotMatch(offline.stdout, /discovered/);
    });

    it('fails clearly when the provider cannot be reached or is not trusted', async () => {
      const unreachable = write('down.yaml', config().replace('https://login.example.com', 'https://127.0.0.1:1'));
      const down = await gatehouse(['check', '--config', unreachable, '--online']);
      assert.equal(down.code, 1);
      assert.match(down.stderr, /identityProvider\.issuer: discovery at https:\/\/127\.0\.0\.1:1\/\.well-known\/openid-configuration failed: discovery_failed/);
      assert.doesNotMatch(down.stderr, /\bat .*\.ts:\d+/, 'no stack trace');

      const untrusted = write('untrusted.yaml', config().replace('https://login.example.com', idp.issuer));
      const refused = await gatehouse(['check', '--config', untrusted, '--online']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /identityProvider\.issuer: discovery at .* failed/);
    });
  });
});
