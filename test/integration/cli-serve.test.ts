import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_DEV_USERS, startIdentityProvider, type DevIdentityProvider } from '../../dev/lib/identity-provider/index.ts';
import { createDevCa } from '../../dev/lib/dev-ca.ts';
import { startEchoBackend, type EchoBackend } from '../support/backend.ts';
import { BrowserClient } from '../../dev/lib/browser-client.ts';
import { freePort } from '../support/free-port.ts';
import { runNode, startNode, type RunningProcess } from '../../dev/lib/processes.ts';

const CLI = fileURLToPath(new URL('../../src/cli/gatehouse.ts', import.meta.url));

describe('gatehouse CLI', function () {
  this.timeout(30_000);
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('check: accepts a valid file and names the key and reason of a bad one', async () => {
    writeFileSync(
      join(dir, 'bad.yaml'),
      `identityProvider:
  issuer: http://login.example.com
  clientId: gatehouse
session:
  secrets: [{ id: 1, secret: short }]
apps:
  - id: wiki
    externalUrl: https://wiki.example.com/app
    internalUrl: http://10.0.0.5:8080
    preauth: sometimes
`,
    );
    // Three processes at once: each loads the whole CLI, which on two loaded cores can take several seconds.
    const [bad, missing, usage] = await Promise.all([
      runNode(CLI, ['check', '--config', join(dir, 'bad.yaml')]),
      runNode(CLI, ['serve', '--config', join(dir, 'absent.yaml')]),
      runNode(CLI, ['frobnicate']),
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /identityProvider\.issuer: must be an https URL/);
    assert.match(bad.stderr, /session\.secrets\[0\]\.secret: must be at least 32 characters/);
    assert.match(bad.stderr, /apps\[0\]\.externalUrl: must be an origin only/);
    assert.match(bad.stderr, /apps\[0\]\.preauth: /);
    assert.doesNotMatch(bad.stderr, /\bat .*\.ts:\d+/, 'no stack trace');

    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read it \(ENOENT\)/);

    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown command "frobnicate"/);
  });

  it('check: warns when a pass-through app reaches a protected app’s backend, and refuses it with --strict', async () => {
    writeFileSync(
      join(dir, 'shared.yaml'),
      `identityProvider:
  issuer: https://login.example.com
  clientId: gatehouse
session:
  secrets: [{ id: 1, secret: a-test-secret-that-is-long-enough-0123456789 }]
apps:
  - id: wiki
    externalUrl: https://wiki.example.com
    internalUrl: http://10.0.0.5:8080
  - id: status
    externalUrl: https://status.example.com
    internalUrl: http://10.0.0.5:8080/status
    preauth: passthrough
`,
    );
    const lenient = await runNode(CLI, ['check', '--config', join(dir, 'shared.yaml')]);
    assert.equal(lenient.code, 0, lenient.stderr);
    assert.match(lenient.stdout, /valid \(2 apps, 1 warning\)/);
    assert.match(
      lenient.stderr,
      /warning: apps "status" \(pass-through\) and "wiki" \(pre-authenticated\) reach the same internal origin http:\/\/10\.0\.0\.5:8080/,
    );
    const strict = await runNode(CLI, ['check', '--config', join(dir, 'shared.yaml'), '--strict']);
    assert.equal(strict.code, 1);
    assert.match(strict.stderr, /1 warning, refused with --strict/);
  });

  // test/unit/config/start-checks.test.ts shows the gateway's start refusing each of these, with the same words where it shares the code.
  it('check: refuses what serve would refuse at start, naming the key', async () => {
    const ca = createDevCa();
    const server = ca.issueServerCertificate(['wiki.example.com']);
    writeFileSync(join(dir, 'tls.crt'), server.certPem);
    writeFileSync(join(dir, 'other.key'), ca.issueServerCertificate(['wiki.example.com']).keyPem);
    writeFileSync(join(dir, 'empty.key'), '\n');
    writeFileSync(join(dir, 'not-a-ca.pem'), 'the CA goes here\n');
    writeFileSync(join(dir, 'rsa.key'), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'a-file'), 'x');
    const config = (extra: string, secret = '{ id: 1, secret: a-test-secret-that-is-long-enough-0123456789 }', idp = ''): string =>
      `server: { host: 127.0.0.1, port: 0 }
identityProvider:
  issuer: https://127.0.0.1:1
  clientId: gatehouse
  clientSecret: s3cret${idp}
session:
  secrets: [${secret}]
apps:
  - id: wiki
    externalUrl: https://wiki.example.com
    internalUrl: http://127.0.0.1:9
${extra}`;
    const cases: Array<{ name: string; yaml: string; check: RegExp }> = [
      {
        name: 'an empty session secret file',
        yaml: config('', '{ id: 1, secretFile: empty.key }'),
        check: /session\.secrets\[0\]\.secretFile: the secret in "empty\.key" must be at least 32 characters/,
      },
      {
        name: 'a key that is not the certificate’s',
        yaml: config('').replace('port: 0 }', 'port: 0, tls: { certFile: tls.crt, keyFile: other.key } }'),
        check: /server\.tls: the private key does not belong to the certificate/,
      },
      {
        name: 'an identity provider CA file without a certificate',
        yaml: config('', undefined, '\n  caFile: not-a-ca.pem'),
        check: /identityProvider\.caFile: "not-a-ca\.pem" holds no PEM certificate/,
      },
      {
        name: 'an RSA identity assertion key',
        yaml: config('identityAssertion: { keyFile: rsa.key }'),
        check: /identityAssertion\.keyFile: "rsa\.key" must be an EC P-256 key/,
      },
      {
        name: 'an audit file in a folder that does not exist',
        yaml: config('audit: { file: { path: logs/audit.jsonl } }'),
        check: /audit\.file\.path: "logs\/audit\.jsonl" cannot be created: its folder ".*\/logs" does not exist/,
      },
      {
        name: 'a webhook token file that does not exist',
        yaml: config('audit: { webhook: { url: https://siem.example.com/collect, authorizationFile: siem.token } }'),
        check: /audit\.webhook\.authorizationFile: cannot read "siem\.token" \(ENOENT\)/,
      },
      {
        name: 'a connector state folder inside a file',
        yaml: config('connectors: { listen: { host: 127.0.0.1, port: 0 }, stateDir: a-file/state }'),
        check: /connectors\.stateDir: ".*\/a-file\/state" cannot be created: ".*\/a-file" is not a folder/,
      },
    ];
    // All at once: each is two processes that mostly load code.
    await Promise.all(
      cases.map(async ({ name, yaml, check: checkSays }, index) => {
        const file = join(dir, `case-${index}.yaml`);
        writeFileSync(file, yaml);
        const check = await runNode(CLI, ['check', '--config', file]);
        assert.equal(check.code, 1, `check passed ${name}: ${check.stdout}`);
        assert.match(check.stderr, checkSays, name);
        assert.doesNotMatch(check.stderr, /\bat .*\.ts:\d+/, 'no stack trace');
      }),
    );
  });

  describe('serve', () => {
    let idp: DevIdentityProvider;
    let backend: EchoBackend;
    let serve: RunningProcess;
    let browser: BrowserClient;
    let origin: string;

    before(async () => {
      const ca = createDevCa();
      const port = await freePort();
      origin = `https://wiki.gatehouse.test:${port}`;
      backend = await startEchoBackend();
      idp = await startIdentityProvider({
        ca,
        clients: [
          {
            client_id: 'cli-test',
            client_secret: 'cli-test-secret',
            redirect_uris: [`${origin}/.gatehouse/callback`],
            post_logout_redirect_uris: [`${origin}/.gatehouse/signed-out`],
          },
        ],
      });
      const configDir = mkdtempSync(join(tmpdir(), 'gatehouse-serve-'));
      const certificate = ca.issueServerCertificate(['wiki.gatehouse.test', 'open.gatehouse.test']);
      writeFileSync(join(configDir, 'tls.crt'), certificate.certPem);
      writeFileSync(join(configDir, 'tls.key'), certificate.keyPem);
      writeFileSync(join(configDir, 'idp-ca.pem'), idp.caPem);
      writeFileSync(join(configDir, 'session.key'), 'a-session-secret-for-the-cli-test-0123456789');
      writeFileSync(
        join(configDir, 'gatehouse.yaml'),
        `# gatehouse serve, as an operator would write it
server:
  host: 127.0.0.1
  port: ${port}
  tls: { certFile: tls.crt, keyFile: tls.key }
identityProvider:
  issuer: ${idp.issuer}
  clientId: cli-test
  clientSecret: cli-test-secret
  caFile: idp-ca.pem
session:
  secrets:
    - { id: 1, secretFile: session.key }
apps:
  - id: wiki
    externalUrl: ${origin}
    internalUrl: ${backend.url}
  - id: open
    externalUrl: https://open.gatehouse.test:${port}
    internalUrl: ${backend.url}
    preauth: passthrough
`,
      );
      serve = startNode(CLI, ['serve', '--config', join(configDir, 'gatehouse.yaml')]);
      await serve.waitFor(/identity provider .* discovered/);
      browser = new BrowserClient({ ca: [ca.certPem] });
    });
    after(async () => {
      await browser?.close();
      const code = await serve?.stop('SIGTERM');
      assert.equal(code, 0, 'a clean exit on SIGTERM');
      await idp?.close();
      await backend?.close();
    });

    it('serves robots.txt, the pass-through app and a full sign-in from the file', async () => {
      const robots = await browser.request(`${origin}/robots.txt`);
      assert.equal(await robots.text(), 'User-agent: *\nDisallow: /\n');
      const open = await browser.request(`${origin.replace('wiki', 'open')}/x`, { headers: { accept: 'application/json' } });
      assert.equal(open.status, 200);
      const alice = DEFAULT_DEV_USERS.find((user) => user.login === 'alice')!;
      const { response, chain } = await browser.signIn(`${origin}/hello`, alice.login, alice.password);
      assert.equal(response.status, 200, chain.join('\n'));
      assert.equal(chain.at(-1), `${origin}/hello`);
    });

    it('writes audit events as JSON lines on stdout', async () => {
      await serve.waitFor(/"type":"signin\.succeeded"/);
      const lines = serve.stdout().trim().split('\n');
      for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), line);
      assert.ok(lines.some((line) => (JSON.parse(line) as { audit?: boolean; type?: string }).type === 'signin.succeeded'));
      assert.doesNotMatch(serve.stdout(), /a-session-secret-for-the-cli-test|cli-test-secret/, 'no secrets in the logs');
    });
  });
});
