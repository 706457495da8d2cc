import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeJwt } from 'jose';
import { createCaFetch } from '../../dev/lib/browser-client.ts';
import { GatehouseError } from '../../src/errors/index.ts';
import { SESSION_REFRESH_LOCK_SECONDS, SESSION_REFRESH_RETRY_SECONDS } from '../../src/limits.ts';
import { openSessionStore, type OpenedSessionStore } from '../../src/session/open-session-store.ts';
import { refreshLockKey } from '../../src/session/refresh-state.ts';
import { deriveSealKeys } from '../../src/session/seal-keys.ts';
import { unseal } from '../../src/session/sealer.ts';
import { sessionRecordSchema } from '../../src/session/session-record.ts';
import type { SessionSideData, SessionStore } from '../../src/session/session-store.ts';
import { startGatewayInstance, type GatewayInstance } from '../support/gateway-instance.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { SECRET_1, signIn, startStack, type Stack } from '../support/stack.ts';

/** Short ID tokens at the real identity provider, which rotates refresh tokens: a token spent twice revokes the grant. */
const ID_TOKEN_TTL_SECONDS = 4;
const PAST_EXPIRY_MS = (ID_TOKEN_TTL_SECONDS + 1.5) * 1000;

/** A real Redis session store with faults switched on by the test: writes of a refreshed state or fresh reads fail. */
class FaultyStore implements SessionStore {
  /** How many writes of a refreshed state (generation 1 on) fail from now on. */
  failRefreshWrites = 0;
  failFreshReads = false;
  readonly inner: SessionStore;
  constructor(inner: SessionStore) {
    this.inner = inner;
  }
  revoke(sessionId: string, issuedAt: number, until: number, now: number): Promise<void> {
    return this.inner.revoke(sessionId, issuedAt, until, now);
  }
  isRevoked(sessionId: string, issuedAt: number, now: number): Promise<boolean> {
    return this.inner.isRevoked(sessionId, issuedAt, now);
  }
  consumeState(stateKey: string, until: number, now: number): Promise<boolean> {
    return this.inner.consumeState(stateKey, until, now);
  }
  putSideData(sessionId: string, data: SessionSideData, until: number, now: number): Promise<boolean> {
    if ((data.refresh?.gen ?? 0) > 0 && this.failRefreshWrites > 0) {
      this.failRefreshWrites -= 1;
      return Promise.reject(new GatehouseError('ERR_STORE_UNAVAILABLE', 'side_data_unreachable'));
    }
    return this.inner.putSideData(sessionId, data, until, now);
  }
  getSideData(sessionId: string, now: number, fresh?: boolean): Promise<SessionSideData | undefined> {
    if (fresh && this.failFreshReads) return Promise.reject(new GatehouseError('ERR_STORE_UNAVAILABLE', 'side_data_unreachable'));
    return this.inner.getSideData(sessionId, now, fresh);
  }
}

interface Answer {
  readonly status: number;
  readonly retryAfter: string | undefined;
  readonly body: string;
  readonly setCookies: readonly string[];
}

/**
 * Two gateway instances on one Redis, one cookie, the identity provider rotating refresh tokens: a session's refresh
 * token is spent once, whichever instance notices first, and a transient failure (a store write or read that fails,
 * a holder of the refresh lease that died) never ends or clears a session the provider still accepts.
 */
describe('session.refresh across instances sharing Redis', function () {
  this.timeout(120_000);
  let redis: RedisServer;
  let stack: Stack;
  const opened: OpenedSessionStore[] = [];
  let storeA: FaultyStore;
  let storeB: FaultyStore;
  let b: GatewayInstance | undefined;
  /** Instance A's token requests for refreshes fail as an unreachable provider's do. */
  let idpDown = false;
  let caFetch: ReturnType<typeof createCaFetch> | undefined;

  async function redisStore(): Promise<FaultyStore> {
    const store = openSessionStore(redis.url, {});
    opened.push(store);
    await store.ready();
    return new FaultyStore(store.store);
  }

  before(async () => {
    redis = await startRedisServer();
    storeA = await redisStore();
    storeB = await redisStore();
    stack = await startStack({
      idTokenTtlSeconds: ID_TOKEN_TTL_SECONDS,
      refreshTokens: true,
      rotateRefreshTokens: true,
      configure: (config) => ({ ...config, session: { ...config.session, refresh: true }, store: { url: redis.url } }),
      gatewayOptions: (idp) => {
        caFetch = createCaFetch({ ca: idp.caPem });
        const fetch = caFetch.fetch;
        return {
          sessionStore: storeA,
          idpFetch: (url, init) =>
            idpDown && init.body instanceof URLSearchParams && init.body.get('grant_type') === 'refresh_token'
              ? Promise.reject(new TypeError('fetch failed'))
              : fetch(url, init),
        };
      },
    });
    // The second instance: the same configuration and clock, its own process state, the same Redis.
    b = await startGatewayInstance(stack, ['wiki.gatehouse.test'], { audit: stack.audit, sessionStore: storeB });
  });
  after(async () => {
    await b?.close();
    await stack?.close();
    await caFetch?.close();
    for (const store of opened) await store.close();
    await redis?.close();
  });
  beforeEach(() => {
    stack.audit.clear();
    storeA.failRefreshWrites = 0;
    storeB.failRefreshWrites = 0;
    storeA.failFreshReads = false;
    storeB.failFreshReads = false;
  });

  /** An XHR to the wiki app, straight to one instance. */
  function xhrVia(instance: 'A' | 'B', path: string, cookie: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const request = httpsRequest(
        {
          host: '127.0.0.1',
          port: instance === 'A' ? stack.port : b!.port,
          path,
          servername: 'wiki.gatehouse.test',
          ca: stack.ca.certPem,
          agent: false,
          headers: { host: new URL(stack.urls.wiki).host, cookie, accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' },
        },
        (response) => {
          let body = '';
          response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'], body, setCookies: response.headers['set-cookie'] ?? [] }),
          );
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end();
    });
  }

  async function signedIn(login: string): Promise<{ cookie: string; sid: string }> {
    const browser = stack.browser();
    await signIn(stack, browser, login);
    const cookie = await browser.jar.getCookieString(`${stack.urls.wiki}/`);
    const keys = deriveSealKeys([{ id: 1, secret: SECRET_1 }]);
    for (const pair of cookie.split('; ')) {
      const unsealed = await unseal(pair.slice(pair.indexOf('=') + 1), keys.session, sessionRecordSchema);
      if (unsealed.ok) return { cookie, sid: unsealed.value.sid };
    }
    throw new Error('no session cookie after sign-in');
  }

  function nameIn(answer: Answer): unknown {
    const echo = JSON.parse(answer.body) as { headers: Record<string, string | undefined> };
    return decodeJwt(echo.headers['x-gatehouse-assertion'] ?? '')['name'];
  }

  function assertNotCleared(answer: Answer): void {
    assert.ok(!answer.setCookies.some((line) => /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(line)), `the cookie was cleared: ${answer.setCookies.join(' | ')}`);
  }

  /** gatehouse_session_refresh_total of both instances, for one outcome. */
  async function refreshes(outcome: string): Promise<number> {
    let total = 0;
    for (const registry of [stack.gateway.metrics, b!.gateway.metrics]) {
      const metric = await registry.getSingleMetric('gatehouse_session_refresh_total')?.get();
      for (const value of metric?.values ?? []) if (value.labels['outcome'] === outcome) total += value.value;
    }
    return total;
  }

  function sessionEvents(): string {
    return JSON.stringify(stack.audit.events.filter((event) => event.type.startsWith('session')).map((event) => [event.type, event.reason]));
  }

  it('concurrent requests on both instances once the ID token expired: one grant, all answered, both serve the refreshed identity', async () => {
    const { cookie } = await signedIn('bob');
    const bob = stack.idp.users.find((user) => user.login === 'bob')!;
    const name = bob.name;
    bob.name = 'Bob Refreshed';
    try {
      await sleep(PAST_EXPIRY_MS);
      const before = stack.idp.grantCount('refresh_token');
      const counted = await refreshes('refreshed');
      const answers = await Promise.all(Array.from({ length: 12 }, (_, index) => xhrVia(index % 2 === 0 ? 'A' : 'B', `/api/concurrent-${index}`, cookie)));
      assert.deepEqual(
        answers.map((answer) => answer.status),
        answers.map(() => 200),
        sessionEvents(),
      );
      assert.equal(stack.idp.grantCount('refresh_token') - before, 1, 'one refresh grant at the identity provider');
      assert.equal((await refreshes('refreshed')) - counted, 1, 'counted once, by the instance that sent it');
      for (const instance of ['A', 'B'] as const) {
        const after = await xhrVia(instance, `/api/after-${instance}`, cookie);
        assert.equal(after.status, 200);
        assert.equal(nameIn(after), 'Bob Refreshed', `instance ${instance} serves the refreshed claims`);
      }
      assert.equal(stack.audit.ofType('session.refresh_failed').length, 0);
    } finally {
      bob.name = name;
    }
  });

  it('a holder of the refresh lease that died: a waiting request takes the lease once it ran out and refreshes', async () => {
    const { cookie, sid } = await signedIn('bob');
    await sleep(PAST_EXPIRY_MS);
    // What an instance that crashed 27 s into its lease leaves behind.
    const now = Math.floor(stack.clock() / 1000);
    assert.equal(await storeA.consumeState(refreshLockKey(sid, 0), now + 3, now), true);
    const before = stack.idp.grantCount('refresh_token');
    const answer = await xhrVia('B', '/api/after-dead-holder', cookie);
    assert.equal(answer.status, 200, `${answer.body} ${sessionEvents()}`);
    assertNotCleared(answer);
    assert.equal(stack.idp.grantCount('refresh_token') - before, 1);
    assert.equal((await xhrVia('A', '/api/then-on-a', cookie)).status, 200);
  });

  it('the store failing while a request waits for another holder: 503, retryable, the cookie kept; the session goes on after', async () => {
    const { cookie, sid } = await signedIn('bob');
    await sleep(PAST_EXPIRY_MS);
    const now = Math.floor(stack.clock() / 1000);
    assert.equal(await storeA.consumeState(refreshLockKey(sid, 0), now + 3, now), true);
    storeB.failFreshReads = true;
    const failed = await xhrVia('B', '/api/store-down', cookie);
    assert.equal(failed.status, 503, failed.body);
    assert.equal((JSON.parse(failed.body) as { error: { code: string } }).error.code, 'ERR_STORE_UNAVAILABLE');
    assert.ok(failed.retryAfter, 'with Retry-After');
    assertNotCleared(failed);
    assert.equal(stack.audit.ofType('session.expired').length, 0, 'not audited as an ended session');
    storeB.failFreshReads = false;
    const later = await xhrVia('B', '/api/store-back', cookie);
    assert.equal(later.status, 200, `${later.body} ${sessionEvents()}`);
  });

  it('the identity provider out of reach once the ID token expired: 503, the cookie kept, not ended; refreshed once it answers again', async () => {
    const { cookie } = await signedIn('bob');
    await sleep(PAST_EXPIRY_MS);
    const unavailable = await refreshes('unavailable');
    idpDown = true;
    try {
      const failed = await xhrVia('A', '/api/idp-down', cookie);
      assert.equal(failed.status, 503, failed.body);
      assert.equal((JSON.parse(failed.body) as { error: { code: string } }).error.code, 'ERR_IDP_UNAVAILABLE');
      assert.equal(failed.retryAfter, String(SESSION_REFRESH_RETRY_SECONDS));
      assert.equal((await refreshes('unavailable')) - unavailable, 1);
      assertNotCleared(failed);
      assert.equal(stack.audit.ofType('session.refresh_failed').length + stack.audit.ofType('session.expired').length, 0, sessionEvents());
    } finally {
      idpDown = false;
    }
    // The instance that holds the lease asks the provider again after a pause.
    await sleep((SESSION_REFRESH_RETRY_SECONDS + 0.5) * 1000);
    const later = await xhrVia('A', '/api/idp-back', cookie);
    assert.equal(later.status, 200, `${later.body} ${sessionEvents()}`);
  });

  it('a store write failing once after a rotating refresh: the rotated token is kept, never lost, and never spent twice', async () => {
    const { cookie } = await signedIn('bob');
    await sleep(PAST_EXPIRY_MS);
    const before = stack.idp.grantCount('refresh_token');
    storeA.failRefreshWrites = 1;
    const first = await xhrVia('A', '/api/write-fails-once', cookie);
    assert.equal(first.status, 200, `${first.body} ${sessionEvents()}`);
    assertNotCleared(first);
    assert.equal(storeA.failRefreshWrites, 0, 'the write did fail once');
    // The next refresh, on the other instance, spends what the store holds: the rotated token, not the spent one.
    await sleep(PAST_EXPIRY_MS);
    const second = await xhrVia('B', '/api/next-refresh', cookie);
    assert.equal(second.status, 200, `${second.body} ${sessionEvents()}`);
    assert.equal(stack.idp.grantCount('refresh_token') - before, 2);
    assert.equal(stack.audit.ofType('session.refresh_failed').length, 0, sessionEvents());
  });

  it('a store that takes no write for the whole lease after a rotating refresh: the session ends cleanly, audited, and the spent token is not sent again', async () => {
    const { cookie } = await signedIn('bob');
    await sleep(PAST_EXPIRY_MS);
    const before = stack.idp.grantCount('refresh_token');
    const unsaved = await refreshes('unsaved');
    storeA.failRefreshWrites = Number.POSITIVE_INFINITY;
    try {
      const first = await xhrVia('A', '/api/write-fails', cookie);
      assert.equal(first.status, 200, `served from the refreshed state this instance holds: ${first.body} ${sessionEvents()}`);
      // The lease runs out with the state still unwritten.
      stack.clock.advance((SESSION_REFRESH_LOCK_SECONDS + 1) * 1000);
      const deadline = Date.now() + 20_000;
      while (!stack.audit.ofType('session.refresh_failed').some((event) => event.reason === 'refresh_state_unsaved')) {
        if (Date.now() > deadline) assert.fail(`no refresh_state_unsaved: ${sessionEvents()}`);
        await sleep(100);
      }
      const after = await xhrVia('B', '/api/after-give-up', cookie);
      assert.equal(after.status, 401, after.body);
      assert.equal(stack.idp.grantCount('refresh_token') - before, 1, 'the spent token was not sent again');
      assert.equal((await refreshes('unsaved')) - unsaved, 1);
    } finally {
      storeA.failRefreshWrites = 0;
      stack.clock.reset();
    }
  });
});
