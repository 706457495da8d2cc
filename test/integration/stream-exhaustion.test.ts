import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import type { BrowserClient } from '../../dev/lib/browser-client.ts';
import { startConnectorStack, type ConnectorStack } from '../support/connector-stack.ts';
import { toLoopback } from '../support/loopback.ts';
import { webSocketOutcome, type WebSocketRefusal } from '../support/websocket-outcome.ts';
import { signIn, type Stack } from '../support/stack.ts';

/** How one WebSocket of the flood ended up: open (holding a stream), or refused with its status, code and Retry-After. */
type Outcome = { readonly open: WebSocket } | WebSocketRefusal;

/**
 * Stream exhaustion, scaled down: one connector with two tunnels of 4 streams (8 in the group, shared by the stack's
 * apps). An anonymous crowd opens more WebSockets through the pass-through app `open` than the group has streams;
 * `open` gets its share (half) and no more, and a signed-in user of `wiki`, in the same group, is served throughout.
 */
describe('stream exhaustion: a WebSocket flood on a pass-through app (through a connector)', function () {
  this.timeout(90_000);
  const FLOOD = 40;
  const CAPACITY = 8;
  let setup: ConnectorStack;
  let stack: Stack;
  let browser: BrowserClient;
  const sockets: WebSocket[] = [];

  before(async () => {
    setup = await startConnectorStack({
      tmpPrefix: 'gatehouse-streams-',
      configure: (config) => ({
        ...config,
        connectors: { ...config.connectors!, tunnels: { maxStreams: 4, maxPerConnector: 1, queue: { maxLength: 8, maxWait: '1s' } } },
        apps: config.apps.map((app) => (app.id === 'slow' ? { ...app, limits: { websocketIdleTimeout: '1s' } } : app)),
      }),
    });
    stack = setup.stack;
    await setup.startConnector('connector', ['--tunnels', '2']);
    browser = stack.browser();
    await signIn(stack, browser, 'alice');
  });
  after(async () => {
    for (const socket of sockets) socket.terminate();
    await setup?.stop();
  });

  const tunnels = () => stack.gateway.connectors!.tunnels;

  /** Opens a WebSocket to `open` without any cookie, as anyone on the internet can; resolves once it is open (its hello arrived) or refused. */
  const anonymous = async (): Promise<Outcome> => {
    const socket = new WebSocket(`${stack.urls.open.replace('https', 'wss')}/ws`, { ca: stack.ca.certPem, lookup: toLoopback, perMessageDeflate: false });
    socket.on('error', () => {});
    sockets.push(socket);
    const result = await webSocketOutcome(socket);
    return result === 'open' ? { open: socket } : result;
  };

  const wikiStatus = async (tag: string): Promise<number> => {
    const response = await browser.request(`${stack.urls.wiki}/account?tag=${tag}`, { headers: { accept: 'application/json' } });
    await response.text();
    return response.status;
  };

  const metric = async (name: string): Promise<string> => stack.gateway.metrics.getSingleMetricAsString(name);

  it('gives the flood half of the group: every other WebSocket is refused with 503 ERR_APP_BUSY and Retry-After', async () => {
    assert.equal(tunnels().capacity('default'), CAPACITY);
    const outcomes = await Promise.all(Array.from({ length: FLOOD }, () => anonymous()));
    const open = outcomes.filter((outcome) => 'open' in outcome);
    const refused = outcomes.filter((outcome) => !('open' in outcome));
    assert.equal(open.length, CAPACITY / 2, `the pass-through app holds its share of the group's ${CAPACITY} streams`);
    for (const refusal of refused) assert.deepEqual(refusal, { status: 503, code: 'ERR_APP_BUSY', retryAfter: '5' });
    assert.equal(tunnels().appShareStats().get('default')?.get('open')?.held, CAPACITY / 2);
    assert.match(await metric('gatehouse_tunnel_app_streams'), /gatehouse_tunnel_app_streams\{connector_group="default",app="open"\} 4\n/);
    assert.match(await metric('gatehouse_tunnel_app_stream_limit'), /gatehouse_tunnel_app_stream_limit\{connector_group="default",app="open"\} 4\n/);
    assert.match(
      await metric('gatehouse_tunnel_app_share_refusals_total'),
      new RegExp(`gatehouse_tunnel_app_share_refusals_total\\{connector_group="default",app="open"\\} ${FLOOD - CAPACITY / 2}\\n`),
    );
    // The crowd is anonymous: its refusals are aggregated by the audit flood guard, not written one by one.
    const written = stack.audit.ofType('forward.failed').filter((event) => event.code === 'ERR_APP_BUSY');
    assert.ok(written.length > 0 && written.length < refused.length, `${written.length} of ${refused.length} refusals written`);
    assert.ok(written.every((event) => event.reason === 'app_share_full' || event.reason === 'app_share_timeout'));
  });

  it('keeps the signed-in app fully usable meanwhile: every request 200, and its own WebSocket', async () => {
    assert.equal(tunnels().appShareStats().get('default')?.get('open')?.held, CAPACITY / 2, 'the flood still holds its streams');
    const statuses: number[] = [];
    for (let wave = 0; wave < 10; wave += 1) {
      statuses.push(...(await Promise.all(Array.from({ length: 3 }, (_, index) => wikiStatus(`w${wave}-${index}`)))));
    }
    assert.deepEqual(
      statuses,
      statuses.map(() => 200),
    );
    const cookie = await browser.jar.getCookieString(`${stack.urls.wiki}/`);
    const own = new WebSocket(`${stack.urls.wiki.replace('https', 'wss')}/ws`, {
      ca: stack.ca.certPem,
      lookup: toLoopback,
      perMessageDeflate: false,
      headers: { cookie, origin: stack.urls.wiki },
    });
    sockets.push(own);
    await once(own, 'message');
    own.send('still here');
    const [echo] = (await once(own, 'message')) as [Buffer];
    assert.equal(echo.toString(), 'still here');
    own.close();
    await once(own, 'close');
  });

  it('times a request that waited for its app to free a stream (gatehouse_tunnel_queue_wait_seconds)', async () => {
    const before = queueWaits(await metric('gatehouse_tunnel_queue_wait_seconds'));
    // `open` holds its share: its next request waits in its line until one of its WebSockets closes.
    const waiting = stack.browser().request(`${stack.urls.open}/queued`, { headers: { accept: 'application/json' } });
    await sleep(400);
    assert.equal(tunnels().waiting('default', 'open'), 1);
    const holder = sockets.find((socket) => socket.readyState === WebSocket.OPEN && socket.url.startsWith(stack.urls.open.replace('https', 'wss')));
    holder?.close();
    const response = await waiting;
    await response.text();
    assert.equal(response.status, 200);
    const after = queueWaits(await metric('gatehouse_tunnel_queue_wait_seconds'));
    assert.equal(after.count, before.count + 1);
    const waited = after.sum - before.sum;
    assert.ok(waited >= 0.35 && waited < 1, `waited ${waited} s`);
    assert.equal(after.le1 - before.le1, 1, 'counted in the bucket up to 1 s');
  });

  it('gives the streams back when the flood lets go: the app opens WebSockets again', async () => {
    for (const socket of sockets) socket.close();
    for (let waited = 0; waited < 5000 && (tunnels().appShareStats().get('default')?.get('open')?.held ?? 0) > 0; waited += 50) await sleep(50);
    assert.equal(tunnels().appShareStats().get('default')?.get('open')?.held ?? 0, 0);
    const again = await anonymous();
    assert.ok('open' in again, 'a new WebSocket opens');
    again.open.close();
  });

  it('closes a WebSocket idle through the tunnel with 1001, and its stream goes back to the group', async () => {
    const held = (): number => tunnels().appShareStats().get('default')?.get('slow')?.held ?? 0;
    const socket = new WebSocket(`${stack.urls.slow.replace('https', 'wss')}/ws`, { ca: stack.ca.certPem, lookup: toLoopback, perMessageDeflate: false });
    socket.on('error', () => {});
    sockets.push(socket);
    await once(socket, 'message');
    assert.equal(held(), 1);
    const [code] = (await once(socket, 'close')) as [number];
    assert.equal(code, 1001);
    for (let waited = 0; waited < 3000 && held() > 0; waited += 50) await sleep(50);
    assert.equal(held(), 0, 'the idle WebSocket no longer holds a tunnel stream');
  });
});

function queueWaits(text: string): { count: number; sum: number; le1: number } {
  const read = (pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? 0);
  return {
    count: read(/gatehouse_tunnel_queue_wait_seconds_count\{connector_group="default"\} ([\d.e+-]+)/),
    sum: read(/gatehouse_tunnel_queue_wait_seconds_sum\{connector_group="default"\} ([\d.e+-]+)/),
    le1: read(/gatehouse_tunnel_queue_wait_seconds_bucket\{connector_group="default",le="1"\} ([\d.e+-]+)/),
  };
}
