import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { parseGatewayConfig, type AppConfig } from '../../../src/config/parse.ts';
import { GatehouseError } from '../../../src/errors/index.ts';
import { SESSION_TOUCH_INTERVAL_SECONDS } from '../../../src/limits.ts';
import { deriveSealKeys } from '../../../src/session/seal-keys.ts';
import { SessionManager } from '../../../src/session/session-manager.ts';
import { MemorySessionStore } from '../../../src/session/session-store.ts';
import { UnsealCache } from '../../../src/session/unseal-cache.ts';

const SECRET = 'a-very-long-session-secret-of-at-least-32-chars';
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

function setup(
  storeOptions: ConstructorParameters<typeof MemorySessionStore>[0] = {},
  secret = SECRET,
): {
  sessions: SessionManager;
  store: MemorySessionStore;
  app: AppConfig;
  other: AppConfig;
  clock: { now: number };
} {
  const config = parseGatewayConfig({
    identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret: 's3cret' },
    session: { secrets: [{ id: 1, secret }] },
    apps: [
      { id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' },
      { id: 'hr', externalUrl: 'https://hr.example.com', internalUrl: 'http://10.0.0.6:8080' },
    ],
  });
  const clock = { now: T0 };
  const store = new MemorySessionStore(storeOptions);
  const sessions = new SessionManager({
    cookieName: config.session.cookieName,
    keys: deriveSealKeys(config.session.secrets),
    store,
    clock: () => clock.now,
    defaults: { maxLifetime: 8 * 3600, idleTimeout: 3600, persistent: false },
  });
  return { sessions, store, app: config.apps[0]!, other: config.apps[1]!, clock };
}

function requestWith(setCookie: string): IncomingMessage {
  const pair = setCookie.split(';')[0]!;
  return { headers: { cookie: pair } } as IncomingMessage;
}

function withValue(setCookie: string, change: (value: string) => string): IncomingMessage {
  const pair = setCookie.split(';')[0]!;
  const at = pair.indexOf('=');
  return { headers: { cookie: `${pair.slice(0, at)}=${change(pair.slice(at + 1))}` } } as IncomingMessage;
}

const user = {
  sub: 'alice',
  name: 'Alice',
  groups: ['staff'],
  amr: ['pwd'],
  authTime: Math.floor(T0 / 1000),
  idTokenExpiresAt: Math.floor(T0 / 1000) + 3600,
  idToken: 'header.payload.signature',
};

describe('SessionManager: what a remembered unseal still checks', () => {
  it('reads the same cookie twice to the same identity', async () => {
    const { sessions, app } = setup();
    const { setCookie } = await sessions.issue(app, user);
    const first = await sessions.read(requestWith(setCookie), app);
    const second = await sessions.read(requestWith(setCookie), app);
    assert.ok(first.ok && second.ok);
    assert.equal(second.identity.sub, 'alice');
    assert.equal(second.identity.sessionId, first.identity.sessionId);
  });

  it('refuses a revoked session after it was read (and remembered) once', async () => {
    const { sessions, app } = setup();
    const { setCookie, record } = await sessions.issue(app, user);
    assert.ok((await sessions.read(requestWith(setCookie), app)).ok);
    await sessions.revoke(record);
    const after = await sessions.read(requestWith(setCookie), app);
    assert.equal(after.ok, false);
    assert.equal(!after.ok && after.reason, 'revoked');
  });

  it('refuses a remembered cookie once it has expired, or idled out', async () => {
    const { sessions, app, clock } = setup();
    const { setCookie } = await sessions.issue(app, user);
    assert.ok((await sessions.read(requestWith(setCookie), app)).ok);
    clock.now = T0 + 3601 * 1000;
    const expired = await sessions.read(requestWith(setCookie), app);
    assert.equal(!expired.ok && expired.reason, 'expired');

    const idle = setup();
    const issued = await idle.sessions.issue(idle.app, { ...user, idTokenExpiresAt: Math.floor(T0 / 1000) + 8 * 3600 });
    assert.ok((await idle.sessions.read(requestWith(issued.setCookie), idle.app)).ok);
    idle.clock.now = T0 + 3601 * 1000;
    const idled = await idle.sessions.read(requestWith(issued.setCookie), idle.app);
    assert.equal(!idled.ok && idled.reason, 'idle');
  });

  it('refuses a remembered cookie presented to another app', async () => {
    const { sessions, app, other } = setup();
    const { setCookie } = await sessions.issue(app, user);
    assert.ok((await sessions.read(requestWith(setCookie), app)).ok);
    // Both apps are https and share the cookie name: only the sealed app id tells them apart.
    const elsewhere = await sessions.read(requestWith(setCookie), other);
    assert.equal(!elsewhere.ok && elsewhere.reason, 'other_app');
  });

  it('refuses every one-character change of a remembered cookie, every time', async () => {
    const { sessions, app } = setup();
    const { setCookie } = await sessions.issue(app, user);
    assert.ok((await sessions.read(requestWith(setCookie), app)).ok);
    for (let round = 0; round < 2; round++) {
      for (const at of [10, 40, 80, -5, -1]) {
        const tampered = withValue(setCookie, (value) => {
          const i = at < 0 ? value.length + at : at;
          return value.slice(0, i) + (value[i] === 'A' ? 'B' : 'A') + value.slice(i + 1);
        });
        const result = await sessions.read(tampered, app);
        assert.equal(result.ok, false, `a change at ${at} was accepted (round ${round})`);
      }
    }
  });
});

describe('SessionManager: a cookie remembered on its connection', () => {
  /** Requests on one keep-alive connection: the same socket object each time. */
  function onConnection(socket: object, request: IncomingMessage): IncomingMessage {
    return Object.assign<IncomingMessage, { socket: object }>(request, { socket });
  }

  it('still refuses it once revoked, expired or idle, or presented to another app', async () => {
    const { sessions, app, other, clock } = setup();
    const socket = {};
    const { setCookie, record } = await sessions.issue(app, user);
    assert.ok((await sessions.read(onConnection(socket, requestWith(setCookie)), app)).ok);
    assert.ok((await sessions.read(onConnection(socket, requestWith(setCookie)), app)).ok);
    const elsewhere = await sessions.read(onConnection(socket, requestWith(setCookie)), other);
    assert.equal(!elsewhere.ok && elsewhere.reason, 'other_app');
    clock.now += 3601 * 1000;
    const idle = await sessions.read(onConnection(socket, requestWith(setCookie)), app);
    assert.equal(idle.ok, false, 'an idle session was accepted from its connection');
    clock.now -= 3601 * 1000;
    await sessions.revoke(record);
    const revoked = await sessions.read(onConnection(socket, requestWith(setCookie)), app);
    assert.equal(!revoked.ok && revoked.reason, 'revoked');
  });

  it('refuses every one-character change on the same connection, and a forged value does not displace the good one', async () => {
    const { sessions, app } = setup();
    const socket = {};
    const { setCookie } = await sessions.issue(app, user);
    assert.ok((await sessions.read(onConnection(socket, requestWith(setCookie)), app)).ok);
    for (let round = 0; round < 2; round++) {
      for (const at of [10, 40, 80, -5, -1]) {
        const tampered = withValue(setCookie, (value) => {
          const i = at < 0 ? value.length + at : at;
          return value.slice(0, i) + (value[i] === 'A' ? 'B' : 'A') + value.slice(i + 1);
        });
        const result = await sessions.read(onConnection(socket, tampered), app);
        assert.equal(result.ok, false, `a change at ${at} was accepted on the connection (round ${round})`);
      }
      assert.ok((await sessions.read(onConnection(socket, requestWith(setCookie)), app)).ok);
    }
  });

  it("never answers one connection's cookie for another session's value, nor for a new session manager", async () => {
    const first = setup();
    const socket = {};
    const alice = await first.sessions.issue(first.app, user);
    const bob = await first.sessions.issue(first.app, { ...user, sub: 'bob' });
    assert.ok((await first.sessions.read(onConnection(socket, requestWith(alice.setCookie)), first.app)).ok);
    const read = await first.sessions.read(onConnection(socket, requestWith(bob.setCookie)), first.app);
    assert.ok(read.ok && read.identity.sub === 'bob');
    // Another manager (another secret) on the same connection: what the first remembered there is not its to answer.
    const second = setup({}, 'another-session-secret-of-at-least-32-characters');
    const other = await second.sessions.read(onConnection(socket, requestWith(bob.setCookie)), second.app);
    assert.equal(other.ok, false, 'a cookie sealed under another secret was accepted from the connection');
  });
});

describe('SessionManager: rolling renewal of a stale cookie', () => {
  it('re-seals one stale cookie sent 100 times once per touch interval, and the unseal cache does not grow per request', async () => {
    const { sessions, app, clock } = setup();
    const { setCookie: stale } = await sessions.issue(app, { ...user, idTokenExpiresAt: Math.floor(T0 / 1000) + 8 * 3600 });
    const fresh = new Set<string>();
    const replay = async (): Promise<void> => {
      for (let index = 0; index < 100; index += 1) {
        const read = await sessions.read(requestWith(stale), app);
        assert.ok(read.ok);
        if (read.refreshCookie) fresh.add(read.refreshCookie);
      }
    };
    clock.now = T0 + (SESSION_TOUCH_INTERVAL_SECONDS + 5) * 1000;
    await replay();
    assert.equal(fresh.size, 1, 'one fresh cookie in this interval');
    // Whoever replays the stale cookie also uses every fresh one it was given.
    for (const cookie of fresh) assert.ok((await sessions.read(requestWith(cookie), app)).ok);
    assert.ok(sessions.stats().unsealCache <= 2, `${sessions.stats().unsealCache} cache entries`);

    clock.now += SESSION_TOUCH_INTERVAL_SECONDS * 1000;
    await replay();
    assert.equal(fresh.size, 2, 'one more in the next interval');
    for (const cookie of fresh) assert.ok((await sessions.read(requestWith(cookie), app)).ok);
    assert.ok(sessions.stats().unsealCache <= 3, `${sessions.stats().unsealCache} cache entries`);
    assert.equal(sessions.stats().recentlyTouched, 1);
  });

  it('still refreshes a session used from its fresh cookie (control)', async () => {
    const { sessions, app, clock } = setup();
    const { setCookie } = await sessions.issue(app, { ...user, idTokenExpiresAt: Math.floor(T0 / 1000) + 8 * 3600 });
    let current = setCookie;
    let refreshes = 0;
    for (let minute = 1; minute <= 5; minute += 1) {
      clock.now = T0 + minute * (SESSION_TOUCH_INTERVAL_SECONDS + 1) * 1000;
      const read = await sessions.read(requestWith(current), app);
      assert.ok(read.ok);
      if (read.refreshCookie) {
        refreshes += 1;
        current = read.refreshCookie;
      }
    }
    assert.equal(refreshes, 5);
  });
});

describe('SessionManager: the verified-email flag', () => {
  it('carries email_verified: true into the session and the identity, whatever the policies name', async () => {
    const { sessions, app } = setup();
    const { setCookie, record } = await sessions.issue(app, { ...user, email: 'alice@example.com', emailVerified: true });
    assert.equal(record.ev, 1);
    const read = await sessions.read(requestWith(setCookie), app);
    assert.ok(read.ok);
    assert.equal(read.identity.emailVerified, true);
  });

  it('marks an unverified, or unstated, email as not verified', async () => {
    const { sessions, app } = setup();
    for (const emailVerified of [false, undefined]) {
      const { setCookie } = await sessions.issue(app, { ...user, email: 'alice@example.com', emailVerified });
      const read = await sessions.read(requestWith(setCookie), app);
      assert.ok(read.ok);
      assert.equal(read.identity.emailVerified, false, String(emailVerified));
    }
  });

  it('reads the flag from the claims when the caller gives only claims', async () => {
    const { sessions, app } = setup();
    const { record } = await sessions.issue(app, { ...user, email: 'alice@example.com', claims: { email_verified: true } });
    assert.equal(record.ev, 1);
    const none = await sessions.issue(app, { ...user, claims: { email_verified: true } });
    assert.equal(none.record.ev, undefined, 'no email, nothing verified');
  });
});

describe('SessionManager: a full side-data store', () => {
  const manyGroups = Array.from({ length: 300 }, (_, index) => `department-${index}-with-a-long-group-name`);

  it('refuses a new session whose groups must be kept server side, and keeps the live ones readable', async () => {
    const { sessions, app } = setup({ maxSideEntries: 2 });
    const carol = await sessions.issue(app, { ...user, sub: 'carol', groups: manyGroups });
    assert.equal(carol.record.gs, 1);
    await sessions.issue(app, { ...user, sub: 'bob' });
    await assert.rejects(sessions.issue(app, { ...user, sub: 'carl', groups: manyGroups }), (error: unknown) => {
      assert.ok(error instanceof GatehouseError);
      assert.equal(error.code, 'ERR_SESSION_STORE_FULL');
      assert.equal(error.status, 503);
      return true;
    });
    const read = await sessions.read(requestWith(carol.setCookie), app);
    assert.ok(read.ok, 'the earlier session still has its groups');
    assert.deepEqual(read.identity.groups, manyGroups);
  });

  it('issues a session that needs nothing server side, without its ID token', async () => {
    const { sessions, app } = setup({ maxSideEntries: 1 });
    const first = await sessions.issue(app, user);
    assert.equal(first.idTokenKept, true);
    const second = await sessions.issue(app, { ...user, sub: 'bob' });
    assert.equal(second.idTokenKept, false);
    assert.ok((await sessions.read(requestWith(second.setCookie), app)).ok);
    assert.equal(await sessions.idTokenOf(second.record), undefined);
    assert.equal(await sessions.idTokenOf(first.record), user.idToken, 'the first session kept its own');
  });
});

describe('UnsealCache', () => {
  it('keeps values until their expiry, and nothing already expired', () => {
    const cache = new UnsealCache<{ n: number }>(10);
    cache.set('Fe26.2*1*a', { n: 1 }, 200, 100);
    cache.set('Fe26.2*1*b', { n: 2 }, 100, 100);
    assert.equal(cache.get('Fe26.2*1*a', 150)?.n, 1);
    assert.equal(cache.get('Fe26.2*1*b', 100), undefined);
    assert.equal(cache.get('Fe26.2*1*a', 200), undefined);
  });

  it('is bounded, and hands out frozen values', () => {
    const cache = new UnsealCache<{ n: number }>(3);
    for (let n = 0; n < 10; n++) cache.set(`value-${n}`, { n }, 1000, 1);
    assert.equal(cache.size, 3);
    assert.equal(cache.get('value-0', 2), undefined);
    const kept = cache.get('value-9', 2)!;
    assert.throws(() => {
      kept.n = 0;
    }, TypeError);
  });
});
