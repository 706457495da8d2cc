import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { toLoopback } from '../support/loopback.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

describe('WebSockets through the gate (direct forwarding)', function () {
  this.timeout(30_000);
  let stack: Stack;
  const sockets: WebSocket[] = [];

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    for (const socket of sockets) if (socket.readyState === WebSocket.OPEN) socket.terminate();
    await stack.close();
  });

  function connect(url: string, headers: Record<string, string>): WebSocket {
    const socket = new WebSocket(url, { ca: stack.ca.certPem, lookup: toLoopback, headers, perMessageDeflate: false });
    // A refused upgrade also reports an error; the tests look at the response instead.
    socket.on('error', () => {});
    sockets.push(socket);
    return socket;
  }

  async function refusedWith(socket: WebSocket): Promise<{ status: number; body: { error: { code: string } } }> {
    const [, response] = (await once(socket, 'unexpected-response')) as [unknown, IncomingMessage];
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    return { status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) as { error: { code: string } } };
  }

  it('echoes for a signed-in user, with identity and without Gatehouse cookies', async () => {
    const browser = stack.browser();
    await signIn(stack, browser, 'alice');
    const cookie = await browser.jar.getCookieString(`${stack.urls.wiki}/`);
    const socket = connect(`${stack.urls.wiki.replace('https', 'wss')}/ws`, { cookie: `${cookie}; app_pref=1`, origin: stack.urls.wiki });
    const [first] = (await once(socket, 'message')) as [Buffer];
    const hello = JSON.parse(first.toString()) as { headers: Record<string, string | undefined> };
    assert.equal(hello.headers['cookie'], 'app_pref=1');
    assert.ok(hello.headers['x-gatehouse-assertion']);
    socket.send('ping-through-the-gate');
    const [echo] = (await once(socket, 'message')) as [Buffer];
    assert.equal(echo.toString(), 'ping-through-the-gate');
    socket.close();
  });

  it('answers an upgrade without a session with 401 JSON, never a redirect', async () => {
    const refused = await refusedWith(connect(`${stack.urls.wiki.replace('https', 'wss')}/ws`, { origin: stack.urls.wiki }));
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'ERR_SESSION_REQUIRED');
    assert.equal(stack.audit.ofType('request.rejected').at(-1)?.reason, 'upgrade:missing');
  });

  it('refuses a WebSocket opened by another origin', async () => {
    const browser = stack.browser();
    await signIn(stack, browser, 'alice');
    const cookie = await browser.jar.getCookieString(`${stack.urls.wiki}/`);
    const refused = await refusedWith(connect(`${stack.urls.wiki.replace('https', 'wss')}/ws`, { cookie, origin: 'https://evil.example' }));
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'ERR_ORIGIN_REFUSED');
  });

  it('closes the WebSocket when the user logs out', async () => {
    const browser = stack.browser();
    await signIn(stack, browser, 'alice');
    const cookie = await browser.jar.getCookieString(`${stack.urls.wiki}/`);
    const socket = connect(`${stack.urls.wiki.replace('https', 'wss')}/ws`, { cookie, origin: stack.urls.wiki });
    await once(socket, 'message');
    const closed = once(socket, 'close');
    await browser.navigate(`${stack.urls.wiki}/.gatehouse/logout`, { stopAt: (url) => url.origin === stack.idp.issuer });
    await closed;
  });

  it('passes WebSockets of a pass-through app without a session', async () => {
    const socket = connect(`${stack.urls.open.replace('https', 'wss')}/ws`, {});
    const [first] = (await once(socket, 'message')) as [Buffer];
    assert.ok(JSON.parse(first.toString()));
    socket.close();
  });
});
