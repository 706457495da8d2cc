import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNode } from '../../dev/lib/processes.ts';

const CLI = fileURLToPath(new URL('../../src/cli/gatehouse.ts', import.meta.url));

/** `gatehouse serve` reads GATEHOUSE_STORE_URL, which wins over the file's store.url. */
describe('gatehouse CLI: where state is kept', function () {
  this.timeout(30_000);
  let dir: string;

  const config = (store: string): string => {
    const file = join(dir, 'gatehouse.yaml');
    writeFileSync(
      file,
      `identityProvider:
  issuer: https://127.0.0.1:9/
  clientId: gatehouse
  clientSecret: s3cret
session:
  secrets: [{ id: 1, secret: a-test-secret-that-is-long-enough-0123456789 }]
store:
  url: "${store}"
apps:
  - id: wiki
    externalUrl: https://wiki.example.com
    internalUrl: http://127.0.0.1:9
`,
    );
    return file;
  };
  const run = async (args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }> => {
    const running = startNode(CLI, args, { cwd: dir, env });
    const [code] = (await once(running.child, 'exit')) as [number | null];
    return { code, stderr: running.stderr() };
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a store scheme this version does not support, from the file or the environment', async () => {
    const fromFile = await run(['check', '--config', config('redis://cache.internal:6379')]);
    assert.equal(fromFile.code, 1);
    assert.match(fromFile.stderr, /store\.url: the "redis:" store is not supported by this version: use "sqlite:<path>"/);

    const fromEnv = await run(['serve', '--config', config('memory:'), '--port', '0'], { GATEHOUSE_STORE_URL: 'redis://cache.internal:6379' });
    assert.equal(fromEnv.code, 1);
    assert.match(fromEnv.stderr, /GATEHOUSE_STORE_URL: the "redis:" store is not supported by this version/);
  });

  it('opens the database GATEHOUSE_STORE_URL names (relative to the working directory) instead of the file’s', async () => {
    const running = startNode(CLI, ['serve', '--config', config('sqlite:from-file.db'), '--host', '127.0.0.1', '--port', '0'], {
      cwd: dir,
      env: { GATEHOUSE_STORE_URL: 'sqlite:env/state.db' },
    });
    try {
      await running.waitFor(/listening on/);
      assert.ok(existsSync(join(dir, 'env', 'state.db')));
      assert.equal(existsSync(join(dir, 'from-file.db')), false);
    } finally {
      await running.stop();
    }
  });
});
