import assert from 'node:assert/strict';
import { once } from 'node:events';
import WebSocket from 'ws';
import type { RiskLevel } from '../../src/policy/types.ts';
import { toLoopback } from '../support/loopback.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

/**
 * An open WebSocket must not outlast what would refuse its next request:
 * the session's idle timeout, or a policy that no longer allows it.
 */
describe('attack: keeping a WebSocket open past the idle timeout or a policy change', function () {
  this.timeout(30_000);
  let stack: Stack;
  const risk: { level: RiskLevel } = { level: 'none' };
  const sockets: WebSocket[] = [];

  before(async () => {
    stack = await startStack({
      gatewayOptions: { socketRecheckIntervalMs: 50, riskProvider: () => Promise.resolve({ signInRisk: risk.level, userRisk: 'none' }) },
      configure: (config) => ({
        ...config,
        session: { ...config.session, idleTimeout: '10m' },
        apps: (config.apps ?? []).map((app) =>
          app.id === 'wiki' ? { ...app, policies: [{ name: 'risky sign-ins', conditions: { signInRisk: ['high'] }, grant: { block: true } }] } : app,
        ),
      }),
    });
  });
  after(async () => {
    for (const socket of sockets) socket.terminate();
    await stack.close();
  });
  beforeEach(() => {
    stack.audit.clear();
    stack.clock.reset();
    risk.level = 'none';
  });

  async function openSocket(): Promise<WebSocket> {
    const browser = stack.browser();
    await signIn(stack, browser, 'alice');
    const cookie = await browser.jar.getCookieString(`${stack.urls.wiki}/`);
    const socket = new WebSocket(`${stack.urls.wiki.replace('https', 'wss')}/ws`, {
      ca: stack.ca.certPem,
      lookup: toLoopback,
      headers: { cookie, origin: stack.urls.wiki },
    });
    socket.on('error', () => {});
    sockets.push(socket);
    await once(socket, 'message');
    return socket;
  }

  it('closes an open WebSocket once its session is idle, and audits it', async () => {
    const socket = await openSocket();
    stack.clock.advance((10 * 60 + 5) * 1000);
    await once(socket, 'close');
    const event = stack.audit.ofType('session.expired').at(-1);
    assert.equal(event?.reason, 'idle');
    assert.equal(event?.code, 'ERR_SESSION_EXPIRED');
    assert.equal(event?.details?.['at'], 'websocket');
  });

  it('closes an open WebSocket the policy no longer allows, and audits it', async () => {
    const socket = await openSocket();
    risk.level = 'high';
    await once(socket, 'close');
    const event = stack.audit.ofType('access.denied').at(-1);
    assert.equal(event?.code, 'ERR_POLICY_DENIED');
    assert.equal(event?.details?.['at'], 'websocket');
  });

  it('keeps a WebSocket whose session and policy still hold (control)', async () => {
    const socket = await openSocket();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(socket.readyState, WebSocket.OPEN);
    socket.send('still here');
    const [echo] = (await once(socket, 'message')) as [Buffer];
    assert.equal(echo.toString(), 'still here');
    socket.close();
  });
});
