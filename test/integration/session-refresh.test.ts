import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeJwt } from 'jose';
import type { BrowserClient } from '../../dev/lib/browser-client.ts';
import type { GatewayConfigInput } from '../../src/config/schema.ts';
import { deriveSealKeys } from '../../src/session/seal-keys.ts';
import { unsealRefreshToken } from '../../src/session/refresh-state.ts';
import type { SessionSideData } from '../../src/session/session-store.ts';
import { revokeRefreshToken, SECRET_1, signIn, startStack, type Stack } from '../support/stack.ts';

/** Short ID tokens at the real identity provider: the session must outlive them. */
const ID_TOKEN_TTL_SECONDS = 4;
const PAST_EXPIRY_MS = (ID_TOKEN_TTL_SECONDS + 1.5) * 1000;

interface Echo {
  readonly path: string;
  readonly headers: Record<string, string | undefined>;
}

async function xhr(stack: Stack, browser: BrowserClient, path = '/api/data'): Promise<{ status: number; echo?: Echo; location?: string | null }> {
  const response = await browser.request(`${stack.urls.wiki}${path}`, { headers: { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' } });
  const body = await response.text();
  return {
    status: response.status,
    location: response.headers.get('location'),
    ...(response.status === 200 ? { echo: JSON.parse(body) as Echo } : {}),
  };
}

function assertionOf(echo: Echo | undefined): Record<string, unknown> {
  const token = echo?.headers['x-gatehouse-assertion'];
  assert.ok(token, 'the backend got an identity assertion');
  return decodeJwt(token);
}

function withRefresh(dir: string, extra: (config: GatewayConfigInput) => GatewayConfigInput = (config) => config) {
  return (config: GatewayConfigInput): GatewayConfigInput =>
    extra({ ...config, session: { ...config.session, refresh: true }, store: { url: `sqlite:${join(dir, 'state.db')}` } });
}

function sideRows(dir: string): { sid: string; raw: string }[] {
  const db = new DatabaseSync(join(dir, 'state.db'), { readOnly: true });
  try {
    return (db.prepare('SELECT session_id, data FROM session_side').all() as { session_id: string; data: string }[]).map((row) => ({
      sid: row.session_id,
      raw: row.data,
    }));
  } finally {
    db.close();
  }
}

describe('long sessions (session.refresh)', function () {
  this.timeout(90_000);
  describe('with refresh on', () => {
    let stack: Stack;
    let dir: string;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'gatehouse-refresh-'));
      stack = await startStack({
        idTokenTtlSeconds: ID_TOKEN_TTL_SECONDS,
        refreshTokens: true,
        configure: withRefresh(dir, (config) => ({
          ...config,
          apps: (config.apps ?? []).map((app) =>
            app.id === 'wiki'
              ? {
                  ...app,
                  policies: [{ name: 'staff only', conditions: { users: { include: ['*'] }, groups: { exclude: ['staff'] } }, grant: { block: true } }],
                }
              : app,
          ),
        })),
      });
    });
    after(async () => {
      await stack.close();
      rmSync(dir, { recursive: true, force: true });
    });
    beforeEach(() => stack.audit.clear());

    it('outlives its first ID token: requests keep reaching the backend with the refreshed claims', async () => {
      const browser = stack.browser();
      await signIn(stack, browser, 'bob');
      const first = await xhr(stack, browser);
      assert.equal(first.status, 200);
      assert.equal(assertionOf(first.echo)['name'], 'Bob Staff');

      const bob = stack.idp.users.find((user) => user.login === 'bob')!;
      const name = bob.name;
      bob.name = 'Bob Renamed';
      try {
        await sleep(PAST_EXPIRY_MS);
        const later = await xhr(stack, browser);
        assert.equal(
          later.status,
          200,
          `past the first ID token, the session still admits: ${JSON.stringify(stack.audit.events.filter((event) => event.type.startsWith('session')))}`,
        );
        assert.equal(assertionOf(later.echo)['sub'], bob.sub);
        const refreshed = stack.audit.events.find((event) => event.type === 'session.refreshed' && event.user?.sub === bob.sub);
        assert.ok(refreshed, 'the refresh is audited');
        assert.equal(refreshed.user?.name, 'Bob Renamed', 'claims come from the refreshed ID token');
        await sleep(PAST_EXPIRY_MS);
        assert.equal((await xhr(stack, browser)).status, 200, 'and past the second one');
      } finally {
        bob.name = name;
      }
    });

    it('keeps the refresh token out of the cookie and sealed in the store', async () => {
      const browser = stack.browser();
      await signIn(stack, browser, 'bob');
      const rows = sideRows(dir);
      assert.ok(rows.length > 0);
      const keys = deriveSealKeys([{ id: 1, secret: SECRET_1 }]);
      let found = 0;
      for (const row of rows) {
        const data = JSON.parse(row.raw) as SessionSideData;
        if (!data.refresh) continue;
        const token = await unsealRefreshToken(data.refresh.token, keys.refresh);
        assert.ok(token, 'the stored token unseals with the refresh key');
        assert.ok(!row.raw.includes(token), 'the raw row does not contain the token in clear');
        const cookies = await browser.jar.getCookieString(stack.urls.wiki);
        assert.ok(cookies.length > 0);
        assert.ok(!cookies.includes(token), 'the cookie does not carry it');
        found++;
      }
      assert.ok(found > 0, 'a refresh state was stored');
      // The cookie is small: a handle, not a token carrier.
      const response = await browser.request(`${stack.urls.wiki}/`, { headers: { accept: 'application/json' } });
      assert.equal(response.status, 200);
    });

    it('concurrent requests at the refresh moment cause one grant at the identity provider', async () => {
      const browser = stack.browser();
      await signIn(stack, browser, 'bob');
      await sleep(PAST_EXPIRY_MS);
      const before = stack.idp.grantCount('refresh_token');
      const answers = await Promise.all(Array.from({ length: 8 }, (_, index) => xhr(stack, browser, `/api/${index}`)));
      assert.deepEqual(
        answers.map((answer) => answer.status),
        answers.map(() => 200),
      );
      assert.equal(stack.idp.grantCount('refresh_token') - before, 1);
    });

    it('a refresh token revoked at the identity provider ends the session at the next refresh, audited, with 401 and no redirect', async () => {
      const browser = stack.browser();
      await signIn(stack, browser, 'bob');
      const keys = deriveSealKeys([{ id: 1, secret: SECRET_1 }]);
      // The newest session's refresh token, from the store, revoked at the provider (RFC 7009).
      const rows = sideRows(dir).map((row) => JSON.parse(row.raw) as SessionSideData);
      const states = rows.filter((row) => row.refresh?.gen === 0);
      const token = await unsealRefreshToken(states.at(-1)!.refresh!.token, keys.refresh);
      await revokeRefreshToken(stack, token!);
      assert.equal((await xhr(stack, browser)).status, 200, 'the ID token still holds');
      await sleep(PAST_EXPIRY_MS);
      const after = await xhr(stack, browser);
      assert.equal(after.status, 401);
      assert.equal(after.location ?? null, null);
      const failed = stack.audit.events.find((event) => event.type === 'session.refresh_failed');
      assert.ok(failed, 'audited');
      assert.equal(failed.user?.sub, 'user-bob');
      assert.match(failed.reason ?? '', /invalid_grant/);
      assert.equal((await xhr(stack, browser)).status, 401, 'and it stays ended');
    });

    it('a group removed at the identity provider is denied by policy after the refresh', async () => {
      const browser = stack.browser();
      await signIn(stack, browser, 'dana');
      assert.equal((await xhr(stack, browser)).status, 200);
      const dana = stack.idp.users.find((user) => user.login === 'dana')!;
      const groups = dana.groups;
      dana.groups = groups.filter((group) => group !== 'staff');
      try {
        await sleep(PAST_EXPIRY_MS);
        const after = await xhr(stack, browser);
        assert.equal(after.status, 403);
      } finally {
        dana.groups = groups;
      }
    });
  });

  it('off (the default): the session ends with its ID token, as before', async () => {
    const stack = await startStack({ idTokenTtlSeconds: ID_TOKEN_TTL_SECONDS, refreshTokens: true });
    try {
      const browser = stack.browser();
      await signIn(stack, browser, 'bob');
      assert.equal((await xhr(stack, browser)).status, 200);
      await sleep(PAST_EXPIRY_MS);
      const after = await xhr(stack, browser);
      assert.equal(after.status, 401);
      assert.equal(stack.idp.grantCount('refresh_token'), 0);
    } finally {
      await stack.close();
    }
  });

  it('maxLifetime still caps a refreshed session', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-refresh-'));
    const stack = await startStack({
      idTokenTtlSeconds: ID_TOKEN_TTL_SECONDS,
      refreshTokens: true,
      configure: withRefresh(dir, (config) => ({ ...config, session: { ...config.session, maxLifetime: '8s' } })),
    });
    try {
      const browser = stack.browser();
      await signIn(stack, browser, 'bob');
      await sleep(PAST_EXPIRY_MS);
      assert.equal((await xhr(stack, browser)).status, 200, 'refreshed once');
      await sleep(8_000 - PAST_EXPIRY_MS + 500);
      const capped = await xhr(stack, browser);
      assert.equal(capped.status, 401);
    } finally {
      await stack.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
