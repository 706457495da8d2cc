import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { AuditLog, memorySink, type MemorySink } from '../../../src/audit/audit-log.ts';
import { parseGatewayConfig, type AppConfig } from '../../../src/config/parse.ts';
import { SESSION_TOUCH_INTERVAL_SECONDS, SOCKET_RECHECK_INTERVAL_MS } from '../../../src/limits.ts';
import { AccessControl } from '../../../src/access/access-control.ts';
import { setRequestContext } from '../../../src/request/context.ts';
import type { RiskLevel } from '../../../src/policy/types.ts';
import { deriveSealKeys } from '../../../src/session/seal-keys.ts';
import { SessionManager } from '../../../src/session/session-manager.ts';
import { SessionSockets } from '../../../src/session/session-sockets.ts';
import { MemorySessionStore } from '../../../src/session/session-store.ts';
import { socketRecheck } from '../../../src/access/socket-recheck.ts';

const SECRET = 'a-very-long-session-secret-of-at-least-32-chars';
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const IDLE = 3600;

interface Fixture {
  readonly clock: { now: number };
  readonly store: MemorySessionStore;
  readonly sessions: SessionManager;
  readonly access: AccessControl;
  readonly audit: MemorySink;
  readonly auditLog: AuditLog;
  readonly app: AppConfig;
  readonly risk: { level: RiskLevel };
  readonly sockets: SessionSockets;
  /** Runs one scheduled re-check, as the interval timer would. */
  tick(): Promise<void>;
  /** A session opened over a real TCP connection: its cookie, and the gateway's end of the socket. */
  open(path?: string): Promise<{ setCookie: string; sessionId: string; server: Socket; client: Socket; closed: Promise<unknown> }>;
  /** A bare TCP connection (its client end), for tracking by hand. */
  connection(): Promise<{ socket: Socket; closed: Promise<unknown> }>;
  close(): Promise<void>;
}

function requestWith(setCookie: string, url = '/'): IncomingMessage {
  return { url, headers: { cookie: setCookie.split(';')[0]!, 'user-agent': 'Mozilla/5.0 test' } } as IncomingMessage;
}

async function fixture(): Promise<Fixture> {
  const config = parseGatewayConfig({
    identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret: 's3cret' },
    session: { secrets: [{ id: 1, secret: SECRET }], idleTimeout: IDLE },
    apps: [
      {
        id: 'wiki',
        externalUrl: 'https://wiki.example.com',
        internalUrl: 'http://10.0.0.5:8080',
        policies: [
          { name: 'risky sign-ins', conditions: { signInRisk: ['high'] }, grant: { block: true } },
          { name: 'fresh sign-in for payroll', conditions: { paths: ['/payroll/'] }, session: { signInFrequency: '10m' } },
        ],
      },
    ],
  });
  const app = config.apps[0]!;
  const clock = { now: T0 };
  const audit = memorySink();
  const auditLog = new AuditLog([audit], { clock: () => clock.now });
  const store = new MemorySessionStore();
  const sessions = new SessionManager({
    cookieName: config.session.cookieName,
    keys: deriveSealKeys(config.session.secrets),
    store,
    clock: () => clock.now,
    defaults: { maxLifetime: 8 * 3600, idleTimeout: IDLE, persistent: false },
  });
  const risk: { level: RiskLevel } = { level: 'none' };
  const access = new AccessControl({
    apps: config.apps,
    namedLocations: {},
    mfa: config.mfa,
    risk: () => Promise.resolve({ signInRisk: risk.level, userRisk: 'none' }),
    audit: auditLog,
    clock: () => clock.now,
  });
  let tick: (() => void) | undefined;
  const sockets = new SessionSockets(() => clock.now, {
    schedule: (callback, intervalMs) => {
      assert.equal(intervalMs, SOCKET_RECHECK_INTERVAL_MS);
      tick = callback;
      return () => {
        tick = undefined;
      };
    },
  });

  const accepted: Socket[] = [];
  const server: Server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    accepted.push(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const clients: Socket[] = [];

  return {
    clock,
    store,
    sessions,
    access,
    audit,
    auditLog,
    app,
    risk,
    sockets,
    async tick() {
      assert.ok(tick, 'a re-check is scheduled');
      tick();
      await sockets.recheckAll();
    },
    async open(path = '/chat') {
      const issued = await sessions.issue(app, {
        sub: 'alice',
        name: 'Alice',
        groups: ['staff'],
        amr: ['pwd'],
        authTime: Math.floor(clock.now / 1000),
        idTokenExpiresAt: Math.floor(clock.now / 1000) + 8 * 3600,
        idToken: 'header.payload.signature',
      });
      // What the upgrade handler holds once the session gate and the policy passed.
      const req = requestWith(issued.setCookie, path);
      setRequestContext(req, { requestId: `upgrade-${clients.length}`, clientIp: '203.0.113.7', userAgent: 'Mozilla/5.0 test', app });
      const check = await sessions.read(req, app);
      assert.ok(check.ok);
      const client = connect(port, '127.0.0.1');
      client.on('error', () => client.destroy());
      clients.push(client);
      await once(client, 'connect');
      while (accepted.length < clients.length) await new Promise((resolve) => setImmediate(resolve));
      const serverSide = accepted[clients.length - 1]!;
      const closed = once(client, 'close');
      sockets.track(
        check.identity.sessionId,
        check.identity.sessionExpiresAt,
        serverSide,
        socketRecheck({ sessions, access, audit: auditLog, req, app, identity: check.identity, record: check.record, clientIp: '203.0.113.7' }),
      );
      return { setCookie: issued.setCookie, sessionId: check.identity.sessionId, server: serverSide, client, closed };
    },
    async connection() {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => socket.destroy());
      clients.push(socket);
      await once(socket, 'connect');
      return { socket, closed: once(socket, 'close') };
    },
    async close() {
      sockets.closeAll();
      for (const client of clients) client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('SessionSockets: open WebSockets are checked again', () => {
  let f: Fixture;
  beforeEach(async () => {
    f = await fixture();
  });
  afterEach(async () => {
    await f.close();
  });

  it('keeps a socket whose session and policy still hold (control)', async () => {
    const { server } = await f.open();
    f.clock.now += 10 * 60 * 1000;
    await f.tick();
    assert.equal(server.destroyed, false);
    assert.equal(f.audit.events.length, 0);
  });

  it('closes a socket whose session went idle since its last request, and audits it', async () => {
    const { server, closed } = await f.open();
    f.clock.now += (IDLE + 1) * 1000;
    await f.tick();
    await closed;
    assert.equal(server.destroyed, true);
    const event = f.audit.ofType('session.expired').at(-1);
    assert.equal(event?.reason, 'idle');
    assert.equal(event?.code, 'ERR_SESSION_EXPIRED');
    assert.equal(event?.details?.['at'], 'websocket');
    assert.equal(event?.requestId, 'upgrade-0', 'joined to the upgrade request');
    assert.equal(event?.user?.sub, 'alice');
  });

  it("measures idleness from the session's last request, not from the upgrade", async () => {
    const { setCookie, server } = await f.open();
    let cookie = setCookie;
    // The user keeps using the app over HTTP for longer than the idle timeout.
    for (let elapsed = 0; elapsed <= IDLE * 1.5; elapsed += SESSION_TOUCH_INTERVAL_SECONDS * 10) {
      f.clock.now = T0 + elapsed * 1000;
      const read = await f.sessions.read(requestWith(cookie), f.app);
      assert.ok(read.ok);
      if (read.refreshCookie) cookie = read.refreshCookie;
      await f.tick();
      assert.equal(server.destroyed, false, `closed after ${elapsed} s of activity`);
    }
    f.clock.now += (IDLE + 1) * 1000;
    await f.tick();
    assert.equal(server.destroyed, true, 'and closed once the requests stop');
  });

  it('closes a socket whose session was revoked elsewhere (another instance), and audits it', async () => {
    const other = await f.open();
    const victim = await f.open('/a');
    const read = await f.sessions.read(requestWith(victim.setCookie), f.app);
    assert.ok(read.ok);
    // Only the shared store knows: no closeSession on this instance.
    await f.store.revoke(victim.sessionId, read.record.iat, read.record.exp, Math.floor(f.clock.now / 1000));
    await f.tick();
    await victim.closed;
    assert.equal(other.server.destroyed, false, "other sessions' sockets stay");
    const event = f.audit.ofType('session.rejected').at(-1);
    assert.equal(event?.reason, 'revoked');
    assert.equal(event?.code, 'ERR_SESSION_REVOKED');
    assert.equal(event?.details?.['sessionId'], victim.sessionId);
  });

  it('closes a socket the policy no longer allows (risk went high), and audits it', async () => {
    const { server, closed } = await f.open();
    f.risk.level = 'high';
    await f.tick();
    await closed;
    assert.equal(server.destroyed, true);
    const event = f.audit.ofType('access.denied').at(-1);
    assert.equal(event?.code, 'ERR_POLICY_DENIED');
    assert.match(event?.reason ?? '', /risky sign-ins:grant\.block/);
    assert.equal(event?.details?.['at'], 'websocket');
  });

  it("closes a socket once its sign-in is older than the path's sign-in frequency", async () => {
    const { server, closed } = await f.open('/payroll/live');
    f.clock.now += 5 * 60 * 1000;
    await f.tick();
    assert.equal(server.destroyed, false, 'still fresh');
    f.clock.now += 6 * 60 * 1000;
    await f.tick();
    await closed;
    const event = f.audit.ofType('access.denied').at(-1);
    assert.equal(event?.code, 'ERR_STEP_UP_REQUIRED');
    assert.match(event?.reason ?? '', /session\.sign_in_frequency/);
  });

  it('closes a socket whose check throws or answers something else (fails closed)', async () => {
    const { server } = await f.open();
    const thrower = await f.connection();
    const odd = await f.connection();
    const until = Math.floor(f.clock.now / 1000) + 3600;
    f.sockets.track('broken', until, thrower.socket, () => {
      throw new Error('bug');
    });
    f.sockets.track('odd', until, odd.socket, () => Promise.resolve('yes' as unknown as boolean));
    await f.tick();
    await Promise.all([thrower.closed, odd.closed]);
    assert.equal(server.destroyed, false);
  });

  it('a back-channel logout heard while a re-check runs checks every socket again once that run is done', async () => {
    const { socket } = await f.connection();
    let revoked = false;
    let calls = 0;
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    // The check reads the revocations first, then waits (a risk provider asked over the network), as socketRecheck does.
    f.sockets.track('s', Math.floor(f.clock.now / 1000) + 3600, socket, () => {
      calls += 1;
      const seen = revoked;
      return (calls === 1 ? slow : Promise.resolve()).then(() => !seen);
    });
    const running = f.tick();
    while (calls === 0) await new Promise((resolve) => setImmediate(resolve));
    revoked = true;
    f.sockets.closeSession('idp-sub.the-user');
    release();
    await running;
    for (let turn = 0; turn < 5; turn += 1) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls, 2, 'checked again after the run that began before the logout');
    assert.equal(socket.destroyed, true, 'closed at once, not at the next interval');
  });

  it('still closes every socket of a session at logout, and stops its timer when none is left', async () => {
    const first = await f.open();
    const second = await f.open();
    assert.deepEqual(f.sockets.size, { sockets: 2, rechecked: 2 });
    assert.equal(f.sockets.closeSession(first.sessionId), 1);
    await first.closed;
    assert.equal(second.server.destroyed, false);
    f.sockets.closeAll();
    await second.closed;
    while (f.sockets.size.sockets > 0) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(f.sockets.size.rechecked, 0);
    await assert.rejects(f.tick(), /a re-check is scheduled/, 'no timer left running');
  });
});

describe('SessionSockets: real timers', () => {
  let f: Fixture;
  beforeEach(async () => {
    f = await fixture();
  });
  afterEach(async () => {
    await f.close();
  });

  it('checks again on its own, every interval', async () => {
    const sockets = new SessionSockets(() => f.clock.now, { recheckIntervalMs: 20 });
    const { socket, closed } = await f.connection();
    let calls = 0;
    sockets.track('s', Math.floor(f.clock.now / 1000) + 3600, socket, () => {
      calls += 1;
      return Promise.resolve(calls < 3);
    });
    await closed;
    assert.equal(calls, 3);
    assert.deepEqual(sockets.size, { sockets: 0, rechecked: 0 });
  });

  it("closes a socket at its session's expiry without any re-check (unchanged)", async () => {
    const sockets = new SessionSockets(() => f.clock.now);
    const { socket, closed } = await f.connection();
    sockets.track('s', Math.floor(f.clock.now / 1000), socket);
    assert.equal(sockets.size.rechecked, 0);
    await closed;
  });
});
