import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { startIdentityProvider, type DevIdentityProvider } from '../../dev/lib/identity-provider/index.ts';
import { createDevCa, type DevCa } from '../../dev/lib/dev-ca.ts';
import { runNode, startNode, type RunningProcess } from '../../dev/lib/processes.ts';

const EXAMPLE = fileURLToPath(new URL('../../examples/standalone/', import.meta.url));
const CLI = fileURLToPath(new URL('../../src/cli/gatehouse.ts', import.meta.url));

/** Writes, in a copy of the example, every file its gatehouse.yaml names, as an operator would. */
function provideReferencedFiles(dir: string, ca: DevCa): void {
  mkdirSync(join(dir, 'tls'));
  mkdirSync(join(dir, 'secrets'), { mode: 0o700 });
  const users = ca.issueServerCertificate(['wiki.example.com', 'status.example.com']);
  writeFileSync(join(dir, 'tls/gatehouse.crt'), users.certPem);
  writeFileSync(join(dir, 'tls/gatehouse.key'), users.keyPem, { mode: 0o600 });
  const connectors = ca.issueServerCertificate(['connect.example.com', '127.0.0.1']);
  writeFileSync(join(dir, 'tls/connect.crt'), connectors.certPem);
  writeFileSync(join(dir, 'tls/connect.key'), connectors.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'tls/corp-ca.pem'), ca.certPem);
  const secret = (name: string, value: string): void => writeFileSync(join(dir, 'secrets', name), `${value}\n`, { mode: 0o600 });
  secret('oidc-client.secret', 'standalone-example-client-secret');
  secret('session-2.key', 'the-second-session-secret-of-the-example-0123456789');
  secret('session-1.key', 'the-first-session-secret-of-the-example-0123456789');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  secret('assertion.key', privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
}

/** GET over TLS to 127.0.0.1 with the Host (and SNI) of a published app. */
function get(
  port: number,
  host: string,
  path: string,
  ca: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, servername: host, headers: { ...headers, host }, ca, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('examples/standalone: gatehouse serve with the annotated gatehouse.yaml', function () {
  this.timeout(60_000);
  let dir: string;
  let ca: DevCa;

  before(() => {
    ca = createDevCa({ commonName: 'standalone example CA' });
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-example-standalone-'));
    cpSync(EXAMPLE, dir, { recursive: true });
    provideReferencedFiles(dir, ca);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('explains every key it sets, in a comment on its line or just above', () => {
    const lines = readFileSync(join(EXAMPLE, 'gatehouse.yaml'), 'utf8').split('\n');
    const unexplained = lines.flatMap((line, index) => {
      const isKey = /^\s*(?:- )?[A-Za-z][\w-]*:/.test(line);
      const explained = / #/.test(line) || /^\s*#/.test(lines[index - 1] ?? '');
      return isKey && !explained ? [`${index + 1}: ${line.trim()}`] : [];
    });
    assert.deepEqual(unexplained, []);
  });

  it('passes `gatehouse check` as written', async () => {
    const check = await runNode(CLI, ['check', '--config', join(dir, 'gatehouse.yaml')]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /gatehouse\.yaml: valid \(2 apps\)/);
  });

  describe('serve', () => {
    let idp: DevIdentityProvider;
    let serve: RunningProcess;

    before(async () => {
      idp = await startIdentityProvider({
        ca,
        clients: [
          { client_id: 'gatehouse', client_secret: 'standalone-example-client-secret', redirect_uris: ['https://wiki.example.com/.gatehouse/callback'] },
        ],
      });
    });
    after(async () => {
      if (serve) assert.equal(await serve.stop('SIGTERM'), 0, 'a clean exit on SIGTERM');
      await idp.close();
    });

    it('starts from the file and answers robots.txt on every published host', async () => {
      // Only what a test machine must change: the provider is the dev one, ports are any free ones, state is temporary.
      const document = parseDocument(readFileSync(join(dir, 'gatehouse.yaml'), 'utf8'));
      writeFileSync(join(dir, 'tls/idp-ca.pem'), idp.caPem);
      document.setIn(['identityProvider', 'issuer'], idp.issuer);
      document.setIn(['identityProvider', 'caFile'], 'tls/idp-ca.pem');
      document.setIn(['connectors', 'listen'], document.createNode({ host: '127.0.0.1', port: 0 }));
      document.setIn(['connectors', 'stateDir'], join(dir, 'state'));
      writeFileSync(join(dir, 'gatehouse.yaml'), document.toString());

      serve = startNode(CLI, ['serve', '--config', join(dir, 'gatehouse.yaml'), '--host', '127.0.0.1', '--port', '0']);
      const [, port] = await serve.waitFor(/listening on https:\/\/127\.0\.0\.1:(\d+)/);
      await serve.waitFor(/identity provider .* discovered/);

      for (const host of ['wiki.example.com', 'status.example.com']) {
        const robots = await get(Number(port), host, '/robots.txt', ca.certPem);
        assert.equal(robots.status, 200);
        assert.equal(robots.body, 'User-agent: *\nDisallow: /\n');
        assert.equal(robots.headers['x-robots-tag'], 'noindex, nofollow');
      }
      // The assertion key is the one in secrets/assertion.key.
      const jwks = JSON.parse((await get(Number(port), 'wiki.example.com', '/.gatehouse/jwks.json', ca.certPem)).body) as {
        keys: Array<{ x: string; y: string }>;
      };
      const expected = createPublicKey(readFileSync(join(dir, 'secrets/assertion.key'), 'utf8')).export({ format: 'jwk' });
      assert.ok(jwks.keys.some((key) => key.x === expected.x && key.y === expected.y));
      // A pre-authenticated app asks for sign-in: nothing reaches 10.0.0.5.
      const gated = await get(Number(port), 'wiki.example.com', '/', ca.certPem, { accept: 'text/html', 'sec-fetch-mode': 'navigate' });
      assert.equal(gated.status, 302);
      assert.match(String(gated.headers['location']), /^https:\/\/wiki\.example\.com\/\.gatehouse\/signin/);
    });
  });
});
