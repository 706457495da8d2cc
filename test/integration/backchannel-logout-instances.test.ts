import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { createServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import express from 'express';
import { Redis } from 'ioredis';
import { importJWK, SignJWT } from 'jose';
import WebSocket from 'ws';
import { createCaFetch, type BrowserClient } from '../../dev/lib/browser-client.ts';
import { memorySink, type MemorySink } from '../../src/audit/audit-log.ts';
import { createGateway } from '../../src/gateway/create-gateway.ts';
import { toLoopback } from '../support/loopback.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** Longer than any test here runs: a WebSocket that closes did so because of the broadcast, not the periodic re-check. */
const NO_RECHECK_MS = 10 * 60_000;
/** Generous for two busy cores; the point is that it is far below the periodic re-check. */
const PROMPT_MS = 10_000;

interface Instance {
  readonly port: number;
  readonly audit: MemorySink;
  close(): Promise<void>;
}

/**
 * Two gateway instances on one real Redis, the real identity provider
 * calling back the first (A) only. A user whose cookie is used on the second
 * (B) logs out at the provider, or the provider names only the user: B refuses
 * the cookie and closes the user's WebSocket as soon as A's revocation
 * reaches it over Redis; an instance that missed the message closes the
 * WebSocket at its next periodic re-check once it has read the revocations again.
 */
describe('back-channel logout across two instances sharing Redis', function () {
  this.timeout(120_000);
  let redis: RedisServer;
  let admin: Redis;
  let stack: Stack;
  let b: Instance;
  let caFetch: ReturnType<typeof createCaFetch>;
  const sockets: WebSocket[] = [];
  const instances: Instance[] = [];

  before(async () => {
    redis = await startRedisServer();
    admin = new Redis(redis.url);
    stack = await startStack({
      backchannelLogout: true,
      configure: (config) => ({ ...config, store: { url: redis.url } }),
      gatewayOptions: { socketRecheckIntervalMs: NO_RECHECK_MS },
    });
    caFetch = createCaFetch({ ca: stack.ca.certPem });
    b = await startInstance(redis.url, NO_RECHECK_MS);
  });
  after(async () => {
    for (const socket of sockets) socket.terminate();
    for (const instance of instances) await instance.close();
    await caFetch?.close();
    await stack?.close();
    admin?.disconnect();
    await redis?.close();
  });
  beforeEach(() => {
    stack.audit.clear();
    for (const instance of instances) instance.audit.clear();
  });

  /** Another instance: the same configuration, its own server, process state and audit log, on `storeUrl`. */
  async function startInstance(storeUrl: string, socketRecheckIntervalMs: number): Promise<Instance> {
    const certificate = stack.ca.issueServerCertificate(['wiki.gatehouse.test']);
    const server: Server = createServer({ cert: certificate.certPem, key: certificate.keyPem });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const audit = memorySink();
    const gateway = createGateway({ ...stack.config, store: { url: storeUrl } }, { clock: stack.clock, audit, socketRecheckIntervalMs });
    const app = express();
    app.disable('x-powered-by');
    app.use(gateway.handler);
    server.on('request', app);
    const detach = gateway.attach(server);
    const instance: Instance = {
      port: (server.address() as AddressInfo).port,
      audit,
      async close() {
        detach();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await gateway.close();
      },
    };
    instances.push(instance);
    await gateway.ready();
    return instance;
  }

  /** One request to the wiki sent to `instance` as a balancer would, on a new connection. */
  function requestVia(
    instance: Instance,
    path: string,
    cookie: string,
    accept = 'application/json',
  ): Promise<{ status: number; body: string; location: string | undefined }> {
    return new Promise((resolve, reject) => {
      const request = httpsRequest(
        {
          host: '127.0.0.1',
          port: instance.port,
          path,
          servername: 'wiki.gatehouse.test',
          ca: stack.ca.certPem,
          agent: false,
          headers: { host: new URL(stack.urls.wiki).host, cookie, accept },
        },
        (response) => {
          let body = '';
          response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body, location: response.headers.location }));
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end();
    });
  }

  /** A WebSocket to the backend's echo through `instance`; resolves once the backend spoke on it. */
  async function webSocketVia(instance: Instance, cookie: string): Promise<WebSocket> {
    const socket = new WebSocket(`wss://wiki.gatehouse.test:${instance.port}/ws`, {
      ca: stack.ca.certPem,
      lookup: toLoopback,
      headers: { host: new URL(stack.urls.wiki).host, cookie, origin: stack.urls.wiki },
      perMessageDeflate: false,
    });
    socket.on('error', () => undefined);
    sockets.push(socket);
    await once(socket, 'message');
    return socket;
  }

  /** Resolves with how long the socket took to close; fails past `ms`. */
  async function closesWithin(socket: WebSocket, ms: number, what: string): Promise<number> {
    const started = performance.now();
    if (socket.readyState !== WebSocket.CLOSED) {
      const closed = once(socket, 'close');
      let timer: NodeJS.Timeout | undefined;
      const cap = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: the WebSocket is still open ${ms} ms later`)), ms);
      });
      try {
        await Promise.race([closed, cap]);
      } finally {
        clearTimeout(timer);
      }
    }
    return performance.now() - started;
  }

  async function signedIn(user: string): Promise<{ browser: BrowserClient; cookie: string }> {
    const browser = stack.browser();
    const { response } = await signIn(stack, browser, user, '/private');
    assert.equal(response.status, 200);
    return { browser, cookie: await browser.jar.getCookieString(`${stack.urls.wiki}/`) };
  }

  /** The user logs out at the provider (RP-initiated there, not at the gateway): the provider calls A's back channel. */
  async function logOutAtProvider(browser: BrowserClient): Promise<void> {
    const page = await browser.navigate(`${stack.idp.issuer}/session/end`);
    await browser.submitForm(page.response, page.response.url, { logout: 'yes' });
  }

  /** A logout token naming only the user, posted to A as the provider would. */
  async function postSubOnlyLogout(sub: string): Promise<number> {
    const jwk = stack.idp.signingKey;
    const header = { alg: jwk.alg ?? 'RS256', kid: jwk.kid, typ: 'logout+jwt' };
    const token = await new SignJWT({
      iss: stack.idp.issuer,
      aud: 'gatehouse-test',
      iat: Math.floor(stack.clock() / 1000),
      jti: randomBytes(12).toString('base64url'),
      events: { [EVENT]: {} },
      sub,
    })
      .setProtectedHeader(header)
      .sign(await importJWK(jwk, header.alg));
    const response = await caFetch.fetch(`${stack.urls.wiki}/.gatehouse/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: token }).toString(),
    });
    await response.body?.cancel();
    return response.status;
  }

  /** The cookie is refused on `instance` as signed out: 401 to an API call, a redirect to sign in for a page. */
  async function refusedAsSignedOut(instance: Instance, cookie: string, path: string): Promise<void> {
    const api = await requestVia(instance, path, cookie);
    assert.equal(api.status, 401, api.body);
    assert.match(api.body, /ERR_SESSION_REVOKED/);
    const page = await requestVia(instance, path, cookie, 'text/html');
    assert.equal(page.status, 302, page.body);
    assert.equal(page.location, `${stack.urls.wiki}/.gatehouse/signin?rd=${encodeURIComponent(path)}`, 'sent to sign in again');
  }

  function rejectedAtWebSocket(audit: MemorySink): boolean {
    return audit.ofType('session.rejected').some((event) => (event.details as { at?: string } | undefined)?.at === 'websocket');
  }

  it('sid: logging out at the provider, which tells A, refuses the cookie on B and closes its WebSocket on B at once', async () => {
    const alice = await signedIn('alice');
    const bob = await signedIn('bob');
    assert.equal((await requestVia(b, '/private', alice.cookie)).status, 200, 'the cookie made through A works on B');
    const socket = await webSocketVia(b, alice.cookie);
    const bobSocket = await webSocketVia(b, bob.cookie);

    await logOutAtProvider(alice.browser);
    const done = stack.audit.ofType('session.backchannel_logout');
    assert.equal(done.length, 1, `A heard the provider: ${JSON.stringify(done)}`);
    assert.equal(done[0]?.outcome, 'success');
    assert.ok((done[0]?.details as { idpSession?: string } | undefined)?.idpSession, 'by provider session');
    assert.equal(b.audit.ofType('session.backchannel_logout').length, 0, 'the provider called A only');

    const took = await closesWithin(socket, PROMPT_MS, 'alice on B');
    console.log(`      the WebSocket on B closed ${Math.round(took)} ms after A answered the provider`);
    await refusedAsSignedOut(b, alice.cookie, '/after-logout');
    assert.equal(stack.backend.requests.filter((request) => request.path === '/after-logout').length, 0, 'nothing reached the backend');
    assert.ok(rejectedAtWebSocket(b.audit), `B audited the WebSocket it closed: ${JSON.stringify(b.audit.events)}`);

    assert.equal((await requestVia(b, '/private', bob.cookie)).status, 200, "another user's session on B survives");
    assert.equal(bobSocket.readyState, WebSocket.OPEN, "another user's WebSocket on B stays open");
  });

  it('sub only: every session of the user ends on B and its WebSocket closes; a session signed in afterwards survives', async () => {
    const first = await signedIn('mallory');
    const second = await signedIn('mallory');
    const other = await signedIn('bob');
    const socket = await webSocketVia(b, second.cookie);

    assert.equal(await postSubOnlyLogout('user-mallory'), 200);
    const took = await closesWithin(socket, PROMPT_MS, 'mallory on B');
    console.log(`      the WebSocket on B closed ${Math.round(took)} ms after A answered the provider`);
    await refusedAsSignedOut(b, first.cookie, '/after-sub-logout');
    await refusedAsSignedOut(b, second.cookie, '/after-sub-logout');
    assert.equal((await requestVia(b, '/private', other.cookie)).status, 200, "another user's session survives");
    const event = stack.audit.ofType('session.backchannel_logout').at(-1);
    assert.equal(event?.outcome, 'success');
    assert.deepEqual(event?.user, { sub: 'user-mallory' });
    assert.ok(rejectedAtWebSocket(b.audit));

    // Sessions are timed in whole seconds: one signed in the second after the logout is not named by it.
    stack.clock.advance(1000);
    const again = await signedIn('mallory');
    assert.equal((await requestVia(b, '/private', again.cookie)).status, 200, 'a sign-in after the logout works on B');
    const kept = await webSocketVia(b, again.cookie);
    // The next user-wide logout (bob's) makes B check every socket again: bob's closes, mallory's new one stays open and echoes.
    const bobSocket = await webSocketVia(b, other.cookie);
    assert.equal(await postSubOnlyLogout('user-bob'), 200);
    await closesWithin(bobSocket, PROMPT_MS, 'bob on B');
    kept.send('still here');
    const [echo] = (await once(kept, 'message')) as [Buffer];
    assert.match(echo.toString(), /still here/);
    assert.equal(kept.readyState, WebSocket.OPEN, 'the session signed in after the logout keeps its WebSocket');
    assert.equal((await requestVia(b, '/private', again.cookie)).status, 200);
  });

  describe('when the instance missed the broadcast', () => {
    const RECHECK_MS = 300;
    let c: Instance;
    before(async () => {
      // C reaches Redis as its own user, so that its connections alone can be cut, and kept from coming back.
      await admin.call('ACL', 'SETUSER', 'instance-c', 'on', '>instance-c-password', '~*', '&*', '+@all');
      const url = new URL(redis.url);
      url.username = 'instance-c';
      url.password = 'instance-c-password';
      c = await startInstance(url.toString(), RECHECK_MS);
    });

    it('the periodic re-check closes the WebSocket once the instance has read the revocations again', async () => {
      const dana = await signedIn('dana');
      assert.equal((await requestVia(c, '/private', dana.cookie)).status, 200);
      const socket = await webSocketVia(c, dana.cookie);

      await admin.call('ACL', 'SETUSER', 'instance-c', 'off');
      await admin.call('CLIENT', 'KILL', 'USER', 'instance-c');
      try {
        await logOutAtProvider(dana.browser);
        assert.equal(stack.audit.ofType('session.backchannel_logout').at(-1)?.outcome, 'success');
        // Several re-checks run meanwhile: C's copy lacks the revocation, so the socket stays open (within the outage grace period).
        await delay(5 * RECHECK_MS);
        assert.equal(socket.readyState, WebSocket.OPEN, 'C missed the broadcast');
      } finally {
        await admin.call('ACL', 'SETUSER', 'instance-c', 'on');
      }
      const took = await closesWithin(socket, 30_000, 'dana on C');
      console.log(`      the WebSocket on C closed ${Math.round(took)} ms after its Redis user was let in again`);
      await refusedAsSignedOut(c, dana.cookie, '/after-missed');
      assert.ok(rejectedAtWebSocket(c.audit), `C audited the WebSocket it closed: ${JSON.stringify(c.audit.events)}`);
    });
  });
});
