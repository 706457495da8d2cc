import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startNode } from '../../dev/lib/processes.ts';
import { freePort } from '../support/free-port.ts';
import { startRedisServer } from '../support/redis-server.ts';

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
    const fromFile = await run(['check', '--config', config('postgres://db.internal:5432/gatehouse')]);
    assert.equal(fromFile.code, 1);
    assert.match(fromFile.stderr, /store\.url: the "postgres:" store is not supported by this version: use "sqlite:<path>"/);

    const fromEnv = await run(['serve', '--config', config('memory:'), '--port', '0'], { GATEHOUSE_STORE_URL: 'postgres://db.internal:5432/gatehouse' });
    assert.equal(fromEnv.code, 1);
    assert.match(fromEnv.stderr, /GATEHOUSE_STORE_URL: the "postgres:" store is not supported by this version/);
  });

  it('stops at start with ERR_STORE_UNUSABLE when the Redis GATEHOUSE_STORE_URL names cannot be reached, its password not shown', async () => {
    const port = await freePort();
    const fromEnv = await run(['serve', '--config', config('memory:'), '--host', '127.0.0.1', '--port', '0'], {
      GATEHOUSE_STORE_URL: `redis://app:hunter2@127.0.0.1:${port}`,
    });
    assert.equal(fromEnv.code, 1);
    assert.match(fromEnv.stderr, new RegExp(`gatehouse: ERR_STORE_UNUSABLE: Redis at redis://app:\\*\\*\\*@127\\.0\\.0\\.1:${port}/? cannot be reached`));
    assert.doesNotMatch(fromEnv.stderr, /hunter2/);
  });

  it('stops at start with one line when the store holds identity assertion keys this version cannot read', async () => {
    const redis = await startRedisServer();
    const client = new Redis(redis.url);
    try {
      await client.set('{gatehouse:kv}:identity-assertion-keys', JSON.stringify({ v: 2 }));
      const started = await run(['serve', '--config', config('memory:'), '--host', '127.0.0.1', '--port', '0'], { GATEHOUSE_STORE_URL: redis.url });
      assert.equal(started.code, 1);
      assert.match(started.stderr, /gatehouse: ERR_ASSERTION_KEY_RING_INVALID: The identity assertion key ring in the store cannot be read: format version 2/);
      assert.doesNotMatch(started.stderr, /identity provider not reachable|\bat .*\.ts:\d+/);
    } finally {
      client.disconnect();
      await redis.close();
    }
  });

  it('serves on the Redis GATEHOUSE_STORE_URL names instead of the file’s store', async () => {
    const redis = await startRedisServer();
    const running = startNode(CLI, ['serve', '--config', config('sqlite:from-file.db'), '--host', '127.0.0.1', '--port', '0'], {
      cwd: dir,
      env: { GATEHOUSE_STORE_URL: redis.url },
    });
    try {
      await running.waitFor(/listening on/);
      // The gateway is up and subscribed: its connection and its subscriber are two clients.
      const client = new Redis(redis.url);
      try {
        const deadline = Date.now() + 10_000;
        while (((await client.pubsub('NUMSUB', 'gatehouse:session.revoked')) as [string, number])[1] < 1) {
          if (Date.now() > deadline) throw new Error('the gateway never subscribed');
          await delay(50);
        }
      } finally {
        client.disconnect();
      }
      assert.equal(existsSync(join(dir, 'from-file.db')), false);
    } finally {
      await running.stop();
      await redis.close();
    }
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
