import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { unsealRefreshToken } from '../../src/session/refresh-state.ts';
import { deriveSealKeys } from '../../src/session/seal-keys.ts';
import type { SessionSideData } from '../../src/session/session-store.ts';
import { toLoopback } from '../support/loopback.ts';
import { revokeRefreshToken, SECRET_1, signIn, startStack, type Stack } from '../support/stack.ts';

/** Short ID tokens at the real identity provider: a WebSocket of a refreshable session must outlive them. */
const ID_TOKEN_TTL_SECONDS = 4;
const PAST_EXPIRY_MS = (ID_TOKEN_TTL_SECONDS + 1.5) * 1000;

/**
 * A WebSocket's periodic check goes through the same refresher requests do: a
 * socket with no request beside it stays open across its ID token's expiry
 * while the provider still grants the refresh, and closes when it refuses.
 */
describe('session.refresh and open WebSockets', function () {
  this.timeout(90_000);
  let stack: Stack;
  let dir: string;
  const sockets: WebSocket[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-refresh-ws-'));
    stack = await startStack({
      idTokenTtlSeconds: ID_TOKEN_TTL_SECONDS,
      refreshTokens: true,
      configure: (config) => ({
        ...config,
        session: { ...config.session, refresh: true },
        store: { url: `sqlite:${join(dir, 'state.db')}` },
        apps: (config.apps ?? []).map((app) =>
          app.id === 'wiki'
            ? { ...app, policies: [{ name: 'staff only', conditions: { users: { include: ['*'] }, groups: { exclude: ['staff'] } }, grant: { block: true } }] }
            : app,
        ),
      }),
      gatewayOptions: { socketRecheckIntervalMs: 500 },
    });
  });
  after(async () => {
    for (const socket of sockets) socket.terminate();
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => stack.audit.clear());

  async function openSocket(login: string): Promise<WebSocket> {
    const browser = stack.browser();
    await signIn(stack, browser, login);
    const cookie = await browser.jar.getCookieString(`${stack.urls.wiki}/`);
    const socket = new WebSocket(`${stack.urls.wiki.replace('https', 'wss')}/ws`, {
      ca: stack.ca.certPem,
      lookup: toLoopback,
      headers: { cookie, origin: stack.urls.wiki },
      perMessageDeflate: false,
    });
    socket.on('error', () => undefined);
    sockets.push(socket);
    await once(socket, 'message');
    return socket;
  }

  async function echoes(socket: WebSocket, text: string): Promise<boolean> {
    const answer = once(socket, 'message').then(([data]) => (data as Buffer).toString() === text);
    socket.send(text);
    return answer;
  }

  /** The newest session's refresh token, from the store, revoked at the provider (RFC 7009). */
  async function revokeNewestRefreshToken(): Promise<void> {
    const db = new DatabaseSync(join(dir, 'state.db'), { readOnly: true });
    let rows: SessionSideData[];
    try {
      rows = (db.prepare('SELECT data FROM session_side').all() as { data: string }[]).map((row) => JSON.parse(row.data) as SessionSideData);
    } finally {
      db.close();
    }
    const sealed = rows.filter((row) => row.refresh).at(-1)?.refresh?.token;
    const token = sealed && (await unsealRefreshToken(sealed, deriveSealKeys([{ id: 1, secret: SECRET_1 }]).refresh));
    assert.ok(token, 'a refresh token in the store');
    await revokeRefreshToken(stack, token);
  }

  function sessionEvents(): string {
    return JSON.stringify(stack.audit.events.filter((event) => event.type.startsWith('session')).map((event) => [event.type, event.reason]));
  }

  it('stays open past its ID token, refreshed by its own periodic check, with no request beside it', async () => {
    const socket = await openSocket('bob');
    const before = stack.idp.grantCount('refresh_token');
    await sleep(PAST_EXPIRY_MS);
    assert.equal(socket.readyState, WebSocket.OPEN, `open past the first ID token: ${sessionEvents()}`);
    assert.ok(await echoes(socket, 'after-first-expiry'));
    await sleep(PAST_EXPIRY_MS);
    assert.equal(socket.readyState, WebSocket.OPEN, `and past the second: ${sessionEvents()}`);
    assert.ok(await echoes(socket, 'after-second-expiry'));
    assert.ok(stack.idp.grantCount('refresh_token') - before >= 2, 'refreshed at the identity provider each time');
    assert.ok(stack.audit.ofType('session.refreshed').length >= 2);
    socket.close();
  });

  it('closes once the provider refuses the refresh (grant revoked), audited', async () => {
    const socket = await openSocket('bob');
    const closed = once(socket, 'close');
    await revokeNewestRefreshToken();
    await sleep(1_000);
    assert.equal(socket.readyState, WebSocket.OPEN, 'the ID token still holds');
    await Promise.race([closed, sleep(20_000).then(() => assert.fail(`not closed: ${sessionEvents()}`))]);
    const failed = stack.audit.ofType('session.refresh_failed').at(-1);
    assert.ok(failed, `the refused refresh is audited: ${sessionEvents()}`);
    assert.match(failed.reason ?? '', /invalid_grant/);
  });

  it('is judged by policy with the refreshed claims: a group removed at the provider closes it at the refresh', async () => {
    const socket = await openSocket('dana');
    const closed = once(socket, 'close');
    const dana = stack.idp.users.find((user) => user.login === 'dana')!;
    const groups = dana.groups;
    dana.groups = groups.filter((group) => group !== 'staff');
    try {
      await Promise.race([closed, sleep(20_000).then(() => assert.fail(`not closed: ${sessionEvents()}`))]);
      assert.ok(stack.audit.ofType('session.refreshed').length >= 1, `refreshed first: ${sessionEvents()}`);
      const denied = stack.audit.ofType('access.denied').at(-1);
      assert.ok(denied, 'closed by the policy, audited');
      assert.match(denied.reason ?? '', /staff only/);
    } finally {
      dana.groups = groups;
    }
  });
});
