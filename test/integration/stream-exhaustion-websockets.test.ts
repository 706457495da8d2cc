import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { toLoopback } from '../support/loopback.ts';
import { webSocketOutcome } from '../support/websocket-outcome.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

/**
 * The bounds on WebSockets themselves: per session and per client address (every client here is 127.0.0.1), and the
 * idle timeout that closes a socket nobody uses while one that pings stays.
 */
describe('stream exhaustion: WebSockets per session, per address, and idle', function () {
  this.timeout(60_000);
  let stack: Stack;
  const sockets: WebSocket[] = [];

  before(async () => {
    stack = await startStack({
      configure: (config) => ({
        ...config,
        limits: { streams: { websocketsPerSession: 2, websocketsPerIp: 3 } },
        apps: config.apps.map((app) => (app.id === 'slow' ? { ...app, limits: { websocketIdleTimeout: '1s' } } : app)),
      }),
    });
  });
  after(async () => {
    for (const socket of sockets) socket.terminate();
    await stack.close();
  });

  const connect = (url: string, headers: Record<string, string> = {}): WebSocket => {
    const socket = new WebSocket(`${url.replace('https', 'wss')}/ws`, { ca: stack.ca.certPem, lookup: toLoopback, perMessageDeflate: false, headers });
    socket.on('error', () => {});
    sockets.push(socket);
    return socket;
  };

  const outcome = webSocketOutcome;

  /** Closed by the client: a close handshake if it is open, else (refused) its request dropped. */
  const closed = async (socket: WebSocket): Promise<void> => {
    if (socket.readyState === WebSocket.CLOSED) return;
    // Not once(): a dropped handshake also emits 'error', which would reject it.
    const done = new Promise((resolve) => socket.once('close', resolve));
    if (socket.readyState === WebSocket.OPEN) socket.close();
    else socket.terminate();
    await done;
  };

  const metric = async (name: string): Promise<string> => stack.gateway.metrics.getSingleMetricAsString(name);

  it('refuses the WebSocket past the per-address cap with 429 and Retry-After, and takes one again once one closes', async () => {
    const first = [connect(stack.urls.open), connect(stack.urls.open), connect(stack.urls.open)];
    assert.deepEqual(await Promise.all(first.map(outcome)), ['open', 'open', 'open']);
    const over = await outcome(connect(stack.urls.open));
    assert.deepEqual(over, { status: 429, code: 'ERR_TOO_MANY_WEBSOCKETS', retryAfter: '10' });
    assert.equal(stack.audit.ofType('request.rejected').at(-1)?.reason, 'upgrade:websockets_per_ip');
    assert.match(await metric('gatehouse_websockets_refused_total'), /app="open",limit="websockets_per_ip"\} 1$/m);
    await closed(first[0]!);
    assert.equal(await outcome(connect(stack.urls.open)), 'open', 'a slot is free again');
    for (const socket of sockets) await closed(socket);
  });

  it('refuses the WebSocket past the per-session cap, while another session may still open one', async () => {
    const alice = stack.browser();
    await signIn(stack, alice, 'alice');
    const headers = { cookie: await alice.jar.getCookieString(`${stack.urls.wiki}/`), origin: stack.urls.wiki };
    const mine = [connect(stack.urls.wiki, headers), connect(stack.urls.wiki, headers)];
    assert.deepEqual(await Promise.all(mine.map(outcome)), ['open', 'open']);
    assert.deepEqual(await outcome(connect(stack.urls.wiki, headers)), { status: 429, code: 'ERR_TOO_MANY_WEBSOCKETS', retryAfter: '10' });
    assert.equal(stack.audit.ofType('request.rejected').at(-1)?.reason, 'upgrade:websockets_per_session');
    const bob = stack.browser();
    await signIn(stack, bob, 'bob');
    const other = connect(stack.urls.wiki, { cookie: await bob.jar.getCookieString(`${stack.urls.wiki}/`), origin: stack.urls.wiki });
    assert.equal(await outcome(other), 'open', "another session's first WebSocket");
    await closed(mine[1]!);
    assert.equal(await outcome(connect(stack.urls.wiki, headers)), 'open', 'the session may open one again');
    for (const socket of sockets) await closed(socket);
  });

  it('closes a WebSocket idle for the timeout with 1001, and keeps one that pings', async () => {
    const idle = connect(stack.urls.slow);
    const pinging = connect(stack.urls.slow);
    assert.deepEqual(await Promise.all([outcome(idle), outcome(pinging)]), ['open', 'open']);
    const opened = Date.now();
    const pings = setInterval(() => pinging.ping(), 250);
    try {
      const [code, reason] = (await once(idle, 'close')) as [number, Buffer];
      const after = Date.now() - opened;
      assert.equal(code, 1001);
      assert.equal(reason.toString(), 'idle timeout');
      assert.ok(after >= 900 && after < 2000, `closed after ${after} ms`);
      await sleep(1500);
      assert.equal(pinging.readyState, WebSocket.OPEN, 'the pinging socket stays');
      pinging.send('still here');
      const [echo] = (await once(pinging, 'message')) as [Buffer];
      assert.equal(echo.toString(), 'still here');
    } finally {
      clearInterval(pings);
    }
    assert.match(await metric('gatehouse_websockets_idle_closed_total'), /app="slow"\} 1$/m);
    await closed(pinging);
  });
});
