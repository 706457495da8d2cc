import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNode } from '../../../dev/lib/processes.ts';

const CLI = fileURLToPath(new URL('../../../src/cli/gatehouse.ts', import.meta.url));

/** `gatehouse serve` with connectors on the embedded SQLite store in connectors.stateDir, the CA key from a file or GATEHOUSE_CA_KEY. */
describe('connector CA private key at rest', function () {
  this.timeout(60_000);
  let dir: string;

  const configFile = (caKeyFile?: string): string => {
    const file = join(dir, 'gatehouse.yaml');
    writeFileSync(
      file,
      `identityProvider:
  issuer: https://127.0.0.1:9/
  clientId: gatehouse
  clientSecret: s3cret
session:
  secrets: [{ id: 1, secret: a-test-secret-that-is-long-enough-0123456789 }]
connectors:
  listen: { host: 127.0.0.1, port: 0 }
  stateDir: state${caKeyFile === undefined ? '' : `\n  caKeyFile: ${caKeyFile}`}
apps:
  - id: wiki
    externalUrl: https://wiki.example.com
    internalUrl: http://127.0.0.1:9
    connectorGroup: default
`,
    );
    return file;
  };
  const serveUntilListening = async (config: string, env: NodeJS.ProcessEnv = {}): Promise<string> => {
    const running = startNode(CLI, ['serve', '--config', config, '--host', '127.0.0.1', '--port', '0'], { cwd: dir, env });
    try {
      await running.waitFor(/listening on/, 30_000);
    } finally {
      await running.stop();
    }
    return running.stderr();
  };
  const serveExpectingRefusal = async (config: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }> => {
    const running = startNode(CLI, ['serve', '--config', config, '--host', '127.0.0.1', '--port', '0'], { cwd: dir, env });
    const [code] = (await once(running.child, 'exit')) as [number | null];
    return { code, stderr: running.stderr() };
  };
  /** Every byte SQLite keeps: the database, its write-ahead log and shared memory. */
  const rawState = (): string =>
    ['gatehouse.db', 'gatehouse.db-wal', 'gatehouse.db-shm']
      .map((name) => join(dir, 'state', name))
      .filter((path) => existsSync(path))
      .map((path) => readFileSync(path).toString('latin1'))
      .join('');

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-ca-key-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps no PEM private key in the SQLite file; a restart with the key serves, a wrong key stops with one line', async () => {
    writeFileSync(join(dir, 'ca.key'), `current:${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    await serveUntilListening(configFile('ca.key'));
    const raw = rawState();
    assert.match(raw, /"sealedKey"/);
    assert.match(raw, /BEGIN CERTIFICATE/);
    assert.doesNotMatch(raw, /PRIVATE KEY/);

    await serveUntilListening(configFile('ca.key'));

    const wrong = await serveExpectingRefusal(configFile('ca.key'), { GATEHOUSE_CA_KEY: `current:${randomBytes(32).toString('base64')}` });
    assert.equal(wrong.code, 1);
    assert.match(
      wrong.stderr,
      /^gatehouse: ERR_CA_KEY_MISMATCH: The connector CA's private key in the store does not decrypt with the configured CA key "current"/m,
    );
    assert.doesNotMatch(wrong.stderr, /\n\s+at /, 'no stack trace');
    assert.doesNotMatch(wrong.stderr, /listening on/);

    const none = await serveExpectingRefusal(configFile());
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^gatehouse: ERR_CA_KEY_MISSING: .*set connectors\.caKeyFile or GATEHOUSE_CA_KEY\.$/m);
  });

  it('encrypts a CA kept in clear once GATEHOUSE_CA_KEY is set, and re-seals it when the key is rotated', async () => {
    await serveUntilListening(configFile());
    assert.match(rawState(), /"keyPem"/);
    const old = `old:${randomBytes(32).toString('base64')}`;
    await serveUntilListening(configFile(), { GATEHOUSE_CA_KEY: old });
    const current = `new:${randomBytes(32).toString('base64')}`;
    await serveUntilListening(configFile(), { GATEHOUSE_CA_KEY: `${current},${old}` });
    // The previous key is no longer needed: the CA is sealed with the new one.
    await serveUntilListening(configFile(), { GATEHOUSE_CA_KEY: current });
    const refused = await serveExpectingRefusal(configFile(), { GATEHOUSE_CA_KEY: old });
    assert.match(refused.stderr, /ERR_CA_KEY_MISMATCH: .*encrypted with key id "new", which is not among the configured CA keys \("old"\)/);
  });
});
