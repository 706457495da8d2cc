import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DEV_USERS } from '../../dev/lib/identity-provider/index.ts';
import { STATE_DATABASE_FILE } from '../../src/store/sqlite-database.ts';
import { startRedisCluster, startRedisServer, type RedisCluster, type RedisServer } from '../support/redis-server.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

/** Where the state is kept for one run of the restart probe, and how to check it was kept there. */
interface StoreUnderTest {
  readonly name: string;
  open(): Promise<string>;
  /** After the probe: the state really was where the URL said. */
  check?(): void;
  close(): Promise<void>;
}

/**
 * What a restart must not undo: a sign-out (a copied cookie stays refused)
 * and a session whose group list is kept server side (it stays signed in,
 * groups and all). The gateway is stopped and built again on the same
 * store, as a process restart would.
 */
function restartProbe(store: StoreUnderTest, more?: (stack: () => Stack, redis: () => RedisServer | undefined) => void): void {
  describe(`state through a gateway restart, on ${store.name}`, function () {
    this.timeout(60_000);
    const manyGroups = Array.from({ length: 300 }, (_, index) => `department-${index}-with-a-long-group-name`);
    const lastGroup = manyGroups.at(-1)!;
    let stack: Stack;

    before(async () => {
      const url = await store.open();
      stack = await startStack({
        users: [
          ...DEFAULT_DEV_USERS,
          {
            login: 'carol',
            password: 'carol-password',
            sub: 'user-carol',
            name: 'Carol Groups',
            email: 'carol@gatehouse.test',
            groups: manyGroups,
            mfa: false,
          },
        ],
        configure: (config) => ({
          ...config,
          store: { url },
          apps: (config.apps ?? []).map((app) =>
            // "other" admits only members of the last of carol's groups, which only the server-side list holds.
            app.id === 'other'
              ? { ...app, policies: [{ name: 'members only', conditions: { groups: { exclude: [lastGroup] } }, grant: { block: true } }] }
              : app,
          ),
        }),
      });
    });
    after(async () => {
      await stack?.close();
      await store.close();
    });

    it('keeps a copied cookie refused after logout, and a server-side group list in use', async () => {
      const leaver = stack.browser();
      await signIn(stack, leaver);
      const copied = await leaver.jar.getCookieString(`${stack.urls.wiki}/`);
      await leaver.navigate(`${stack.urls.wiki}/.gatehouse/logout`, { stopAt: (url) => url.origin === stack.idp.issuer });

      const carol = stack.browser();
      assert.equal((await carol.signIn(`${stack.urls.other}/start`, 'carol', 'carol-password')).response.status, 200);
      const outsider = await stack.browser().signIn(`${stack.urls.other}/`, 'bob', 'bob-password');
      assert.equal(outsider.response.status, 403, 'the policy refuses users outside the group (control)');

      const replayBefore = await stack.browser().request(`${stack.urls.wiki}/secret`, { headers: { cookie: copied, accept: 'application/json' } });
      assert.equal(replayBefore.status, 401);

      await stack.restartGateway();

      const replay = await stack.browser().request(`${stack.urls.wiki}/secret`, { headers: { cookie: copied, accept: 'application/json' } });
      assert.equal(replay.status, 401, 'the signed-out cookie is still refused after the restart');
      assert.equal(((await replay.json()) as { error: { code: string } }).error.code, 'ERR_SESSION_REVOKED');
      assert.equal(stack.backend.requests.filter((request) => request.path === '/secret').length, 0);
      stack.audit.clear();

      const after = await carol.request(`${stack.urls.other}/after-restart`, { headers: { accept: 'application/json' } });
      assert.equal(after.status, 200, 'carol is still signed in, and her server-side groups still admit her');
      assert.equal(stack.audit.ofType('session.rejected').length, 0);
      store.check?.();
    });

    more?.(
      () => stack,
      () => (store as { redis?: RedisServer }).redis,
    );
  });
}

let stateDir: string;
restartProbe({
  name: 'SQLite',
  open: () => {
    stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-state-restart-'));
    return Promise.resolve(`sqlite:${join(stateDir, STATE_DATABASE_FILE)}`);
  },
  check: () => assert.ok(existsSync(join(stateDir, STATE_DATABASE_FILE)), 'kept in the configured file'),
  close: () => {
    rmSync(stateDir, { recursive: true, force: true });
    return Promise.resolve();
  },
});

// On Redis the state is in Redis, not in the process: the same probe, and a Redis outage under a live session.
const onRedis: StoreUnderTest & { redis?: RedisServer } = {
  name: 'Redis',
  async open() {
    onRedis.redis = await startRedisServer();
    return onRedis.redis.url;
  },
  close: async () => onRedis.redis?.close(),
};
restartProbe(onRedis, (stack, redis) => {
  it('serves a session it can verify while Redis is down (within the grace period), and recovers by itself', async () => {
    const user = stack().browser();
    await signIn(stack(), user);
    await redis()!.stop();
    try {
      const during = await user.request(`${stack().urls.wiki}/during-outage`, { headers: { accept: 'application/json' } });
      assert.equal(during.status, 200, 'a session it can verify is served within the grace period');
    } finally {
      await redis()!.start();
    }
    const deadline = Date.now() + 10_000;
    for (;;) {
      const back = await user.request(`${stack().urls.wiki}/after-outage`, { headers: { accept: 'application/json' } });
      if (back.status === 200) break;
      assert.equal(back.status, 503);
      if (Date.now() > deadline) throw new Error('never recovered');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
});

// On a Redis Cluster every multi-key script stays within one slot (hash-tagged keys): the same probe, the whole gateway on three masters.
let cluster: RedisCluster | undefined;
restartProbe({
  name: 'a Redis Cluster',
  async open() {
    cluster = await startRedisCluster({ masters: 3 });
    return cluster.url;
  },
  close: async () => cluster?.close(),
});
