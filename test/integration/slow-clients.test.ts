import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { BrowserClient } from '../../dev/lib/browser-client.ts';
import type { GatewayConfigInput } from '../../src/config/schema.ts';
import { BODY_CUT_CLOSE_MS, BODY_WATCH_TICK_MS, SERVER_CONNECTIONS_CHECK_INTERVAL_MS } from '../../src/limits.ts';
import { startConnectorStack, type ConnectorStack } from '../support/connector-stack.ts';
import { slowClient, type SlowClientOptions, type SlowOutcome } from '../support/slow-client.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

/** Short deadlines, so that the whole file runs in well under a minute: headers within 2 s; bodies at 64 B/s over 1 s after 1 s, whole within 5 s. */
const HEADERS_TIMEOUT_S = 2;
const BODY = { minRate: 64, window: 1, grace: 1, timeout: 5 };
/** Room for two busy cores: a cut may come this much after its deadline (the watchdog's tick, the 408's close, a loaded event loop). */
const SLACK_MS = 2_500;
const HEADERS_DEADLINE_MS = HEADERS_TIMEOUT_S * 1000 + SERVER_CONNECTIONS_CHECK_INTERVAL_MS + SLACK_MS;
const BODY_RATE_DEADLINE_MS = Math.max(BODY.grace, BODY.window) * 1000 + BODY_WATCH_TICK_MS + BODY_CUT_CLOSE_MS + SLACK_MS;
/** Slow clients in the crowd: 200 in the normal run; SLOW_CLIENTS=1000 for the full figure (docs/reliability.md, "Slow clients"). */
const CROWD = Number(process.env['SLOW_CLIENTS'] ?? 200);
/** The signed-in user's p99 while the crowd runs, on two shared cores with the crowd's own clients in this process. */
const P99_BOUND_MS = 2_000;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

describe('slow clients on the public listener (through a connector)', function () {
  this.timeout(120_000);
  let setup: ConnectorStack;
  let stack: Stack;

  before(async () => {
    setup = await startConnectorStack({
      tmpPrefix: 'gatehouse-slow-',
      configure: (config): GatewayConfigInput => ({
        ...config,
        server: { ...config.server, headersTimeout: HEADERS_TIMEOUT_S },
        // Every client of this file is 127.0.0.1: the cap has its own test, which sets one.
        limits: { ...config.limits, body: BODY, connections: { perIp: 0 } },
      }),
    });
    stack = setup.stack;
    await setup.startConnector('connector', ['--tunnels', '2']);
  });
  after(async () => {
    await setup?.stop();
  });

  const tunnels = () => stack.gateway.connectors!.tunnels;
  const openStreams = (): number => tunnels().appShareStats().get('default')?.get('open')?.held ?? 0;
  const client = (host: string, head: string, options: Partial<SlowClientOptions> = {}): Promise<SlowOutcome> =>
    slowClient({ port: stack.port, servername: host, ca: stack.ca.certPem, head, giveUpMs: 15_000, ...options });
  const post = (host: string, path: string, length = 1_000_000, type = 'application/octet-stream'): string =>
    `POST ${path} HTTP/1.1\r\nHost: ${host}:${stack.port}\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`;
  const clientConnections = async (): Promise<number> => Number(/gatehouse_client_connections (\d+)/.exec(await metric('gatehouse_client_connections'))?.[1]);
  const metric = async (name: string): Promise<string> => stack.gateway.metrics.getSingleMetricAsString(name);

  it('cuts a body trickled through the tunnel (one byte every 500 ms) with 408 and Connection: close, and frees its tunnel stream', async () => {
    const trickle = client('open.gatehouse.test', post('open.gatehouse.test', '/upload'), { bodyDripMs: 500 });
    for (let waited = 0; waited < 5000 && openStreams() === 0; waited += 50) await sleep(50);
    assert.equal(openStreams(), 1, 'the trickled request holds a tunnel stream while it is forwarded');
    const outcome = await trickle;
    assert.ok(outcome.closedAfterMs !== undefined, 'the gateway closed the connection');
    assert.ok(outcome.closedAfterMs < BODY_RATE_DEADLINE_MS, `closed after ${Math.round(outcome.closedAfterMs)} ms`);
    assert.match(outcome.answer, /^HTTP\/1\.1 408 /);
    assert.match(outcome.answer, /\r\nconnection: close\r\n/i);
    assert.match(outcome.answer, /ERR_REQUEST_TIMEOUT/);
    for (let waited = 0; waited < 3000 && openStreams() > 0; waited += 50) await sleep(50);
    assert.equal(openStreams(), 0, 'the tunnel stream went back');
    assert.match(await metric('gatehouse_requests_timed_out_total'), /gatehouse_requests_timed_out_total\{reason="body_rate"\} [1-9]/);
    const event = stack.audit.ofType('request.timed_out').find((each) => each.reason === 'body_rate' && each.app === 'open');
    assert.ok(event, 'audited');
    assert.equal(event.code, 'ERR_REQUEST_TIMEOUT');
    assert.deepEqual(stack.audit.ofType('forward.failed'), [], "the cut is the client's, not reported as a failure of the app");
  });

  it('cuts a body the gateway reads itself (back-channel logout) when it trickles', async () => {
    const outcome = await client(
      'wiki.gatehouse.test',
      post('wiki.gatehouse.test', '/.gatehouse/backchannel-logout', 4000, 'application/x-www-form-urlencoded'),
      { bodyDripMs: 500 },
    );
    assert.ok(outcome.closedAfterMs !== undefined && outcome.closedAfterMs < BODY_RATE_DEADLINE_MS, `closed after ${outcome.closedAfterMs} ms`);
    assert.match(outcome.answer, /^HTTP\/1\.1 408 /);
  });

  it('closes a trickled body answered early (401 before the body) within the lingering close', async () => {
    const outcome = await client('wiki.gatehouse.test', post('wiki.gatehouse.test', '/upload').replace('\r\n\r\n', '\r\nAccept: application/json\r\n\r\n'), {
      bodyDripMs: 500,
    });
    assert.match(outcome.answer, /^HTTP\/1\.1 401 /);
    assert.ok(outcome.closedAfterMs !== undefined && outcome.closedAfterMs < BODY_RATE_DEADLINE_MS + 5000, `closed after ${outcome.closedAfterMs} ms`);
  });

  it('lets an honest slow upload through: at 512 B/s, longer than the grace period and the window', async () => {
    const bytes = 2048;
    const outcome = await client('open.gatehouse.test', post('open.gatehouse.test', '/upload', bytes), { bodyDripMs: 250, bodyChunk: 128, bodyBytes: bytes });
    assert.match(outcome.answer, /^HTTP\/1\.1 200 /);
  });

  it('cuts a body that keeps the rate but is not whole by limits.body.timeout', async () => {
    const outcome = await client('open.gatehouse.test', post('open.gatehouse.test', '/upload'), { bodyDripMs: 250, bodyChunk: 256 });
    assert.ok(outcome.closedAfterMs !== undefined, 'closed');
    assert.ok(
      outcome.closedAfterMs > BODY.timeout * 1000 - 500 && outcome.closedAfterMs < BODY.timeout * 1000 + BODY_CUT_CLOSE_MS + SLACK_MS,
      `${outcome.closedAfterMs} ms`,
    );
    assert.match(outcome.answer, /^HTTP\/1\.1 408 /);
    assert.ok(stack.audit.ofType('request.timed_out').some((each) => each.reason === 'body_timeout'));
  });

  it('cuts a client that sends its headers one byte at a time at headersTimeout, with 408', async () => {
    const head = `GET /slowloris HTTP/1.1\r\nHost: open.gatehouse.test:${stack.port}\r\nUser-Agent: ${'s'.repeat(40)}\r\n\r\n`;
    const outcome = await client('open.gatehouse.test', head, { headDripMs: 100 });
    assert.ok(outcome.closedAfterMs !== undefined, 'closed');
    assert.ok(outcome.closedAfterMs < HEADERS_DEADLINE_MS, `closed after ${Math.round(outcome.closedAfterMs)} ms`);
    assert.ok(outcome.sent < head.length, 'the head never completed');
    assert.match(outcome.answer, /^HTTP\/1\.1 408 /);
    assert.ok(stack.audit.ofType('request.timed_out').some((each) => each.reason === 'headers'));
  });

  it('closes a connection that never completes its TLS handshake at headersTimeout', async () => {
    const at = performance.now();
    const silent = netConnect(stack.port, '127.0.0.1');
    silent.on('error', () => {});
    const closed = await Promise.race([once(silent, 'close').then(() => performance.now() - at), sleep(10_000).then(() => undefined)]);
    silent.destroy();
    assert.ok(closed !== undefined && closed < HEADERS_TIMEOUT_S * 1000 + SLACK_MS, `closed after ${closed} ms (Node's own handshake timeout is 120 s)`);
    assert.ok(stack.audit.ofType('request.timed_out').some((each) => each.reason === 'handshake'));
    assert.match(await metric('gatehouse_requests_timed_out_total'), /\{reason="handshake"\} [1-9]/);
  });

  it(`${CROWD} slow clients (half slowloris, half slow bodies through the tunnel) do not starve a signed-in user`, async () => {
    // Its own, not the stack's: closed at the end, so that the cap's test below starts with no connection open.
    const browser = new BrowserClient({ ca: [stack.ca.certPem, stack.idp.caPem] });
    await signIn(stack, browser, 'alice');
    const headsHalf = Math.floor(CROWD / 2);
    const head = (index: number): string => `GET /loris-${index} HTTP/1.1\r\nHost: open.gatehouse.test:${stack.port}\r\nX-Pad: ${'p'.repeat(60)}\r\n\r\n`;
    const crowd = Array.from({ length: CROWD }, (_, index) =>
      index < headsHalf
        ? client('open.gatehouse.test', head(index), { headDripMs: 200, giveUpMs: 30_000 }).then((outcome) => ({ kind: 'headers' as const, outcome }))
        : client('open.gatehouse.test', post('open.gatehouse.test', `/upload?slow=${index}`), { bodyDripMs: 500, giveUpMs: 30_000 }).then((outcome) => ({
            kind: 'body' as const,
            outcome,
          })),
    );
    let crowdDone = false;
    const all = Promise.all(crowd).finally(() => (crowdDone = true));
    const statuses: number[] = [];
    const latencies: number[] = [];
    let peakStreams = 0;
    while (!crowdDone) {
      peakStreams = Math.max(peakStreams, openStreams());
      const at = performance.now();
      const response = await browser.request(`${stack.urls.wiki}/steady?n=${statuses.length}`, { headers: { accept: 'application/json' } });
      await response.text();
      latencies.push(performance.now() - at);
      statuses.push(response.status);
    }
    const outcomes = await all;
    latencies.sort((a, b) => a - b);
    const cutAfter = (kind: 'headers' | 'body'): number[] =>
      outcomes
        .filter((each) => each.kind === kind)
        .map((each) => each.outcome.closedAfterMs ?? Number.POSITIVE_INFINITY)
        .sort((a, b) => a - b);
    const heads = cutAfter('headers');
    const bodies = cutAfter('body');
    const figures = {
      crowd: CROWD,
      userRequests: statuses.length,
      userP50: Math.round(percentile(latencies, 50)),
      userP99: Math.round(percentile(latencies, 99)),
      userMax: Math.round(latencies.at(-1) ?? 0),
      headersCutMedian: Math.round(percentile(heads, 50)),
      headersCutMax: Math.round(heads.at(-1) ?? 0),
      bodiesCutMedian: Math.round(percentile(bodies, 50)),
      bodiesCutMax: Math.round(bodies.at(-1) ?? 0),
      peakOpenStreams: peakStreams,
    };
    console.log(`      slow clients: ${JSON.stringify(figures)}`);
    assert.ok(statuses.length > 0);
    assert.deepEqual(
      statuses.filter((status) => status !== 200),
      [],
      'the signed-in user got no error',
    );
    assert.ok(figures.userP99 < P99_BOUND_MS, `p99 ${figures.userP99} ms`);
    // Handshakes of the whole crowd at once take their time on two cores: the deadline counts from each client's own handshake.
    assert.ok(figures.headersCutMax < HEADERS_DEADLINE_MS, `slowest header cut ${figures.headersCutMax} ms`);
    assert.ok(figures.bodiesCutMax < BODY_RATE_DEADLINE_MS + 1000, `slowest body cut ${figures.bodiesCutMax} ms`);
    for (const { outcome } of outcomes) assert.match(outcome.answer, /^HTTP\/1\.1 408 /);
    // One address, two reasons: the flood guard writes the first of each per window and counts the rest.
    const written = stack.audit.ofType('request.timed_out').length;
    assert.ok(written < CROWD / 2, `${written} request.timed_out events written for ${CROWD} cuts`);
    for (let waited = 0; waited < 5000 && openStreams() > 0; waited += 50) await sleep(50);
    assert.equal(openStreams(), 0, 'every slow body gave its tunnel stream back');
    await browser.close();
  });

  it('refuses connections past limits.connections.perIp (closed before the TLS handshake), counted and audited', async () => {
    await stack.gateway.reload({ ...stack.config, limits: { ...stack.config.limits, connections: { perIp: 3 } } });
    const held: TLSSocket[] = [];
    const open = (): Promise<'open' | 'refused'> =>
      new Promise((resolve) => {
        const socket = connect({ host: '127.0.0.1', port: stack.port, servername: 'open.gatehouse.test', ca: stack.ca.certPem });
        socket.once('secureConnect', () => {
          held.push(socket);
          resolve('open');
        });
        socket.once('error', () => resolve('refused'));
        socket.once('close', () => resolve('refused'));
      });
    try {
      for (let waited = 0; waited < 5000 && (await clientConnections()) > 0; waited += 50) await sleep(50);
      assert.equal(await clientConnections(), 0, 'no connection of the earlier tests is left');
      const outcomes = [await open(), await open(), await open(), await open()];
      assert.deepEqual(outcomes, ['open', 'open', 'open', 'refused']);
      assert.match(await metric('gatehouse_connections_refused_total'), /gatehouse_connections_refused_total\{limit="per_ip"\} 1$/m);
      const refused = stack.audit.ofType('connection.refused');
      assert.equal(refused.length, 1);
      assert.equal(refused[0]?.reason, 'connections_per_ip');
      assert.equal(refused[0]?.code, 'ERR_TOO_MANY_CONNECTIONS');
      held.pop()?.destroy();
      await sleep(200);
      assert.equal(await open(), 'open', 'a connection that closed frees its place');
    } finally {
      for (const socket of held) socket.destroy();
      await stack.gateway.reload({ ...stack.config, limits: { ...stack.config.limits, connections: { perIp: 0 } } });
    }
  });
});

describe('slow clients: a body forwarded straight to the app (no connector)', function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({
      configure: (config): GatewayConfigInput => ({ ...config, limits: { ...config.limits, body: BODY, connections: { perIp: 0 } } }),
    });
  });
  after(async () => {
    await stack.close();
  });

  const backendConnections = (): Promise<number> =>
    new Promise((resolve, reject) => stack.backend.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));

  it('cuts a trickled body with 408 and closes the connection to the app with it', async () => {
    const head = `POST /upload HTTP/1.1\r\nHost: open.gatehouse.test:${stack.port}\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n`;
    const trickle = slowClient({ port: stack.port, servername: 'open.gatehouse.test', ca: stack.ca.certPem, head, bodyDripMs: 500, giveUpMs: 15_000 });
    for (let waited = 0; waited < 5000 && (await backendConnections()) === 0; waited += 50) await sleep(50);
    assert.equal(await backendConnections(), 1, 'the request reached the app');
    const outcome = await trickle;
    assert.ok(outcome.closedAfterMs !== undefined && outcome.closedAfterMs < BODY_RATE_DEADLINE_MS, `closed after ${outcome.closedAfterMs} ms`);
    assert.match(outcome.answer, /^HTTP\/1\.1 408 /);
    for (let waited = 0; waited < 3000 && (await backendConnections()) > 0; waited += 50) await sleep(50);
    assert.equal(await backendConnections(), 0, "the gateway's connection to the app closed");
  });
});
