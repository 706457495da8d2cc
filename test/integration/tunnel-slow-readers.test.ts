import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { patternSha256, patternStream } from '../../dev/lib/pattern-body.ts';
import { TUNNEL_CONNECTOR_STREAM_BUFFER_BYTES, TUNNEL_MIN_STREAM_WINDOW_BYTES, TUNNEL_STREAM_BUFFER_BYTES } from '../../src/limits.ts';
import { rssOf, type RunningConnector } from '../../dev/lib/connector-process.ts';
import { startConnectorStack, type ConnectorStack } from '../support/connector-stack.ts';
import type { Stack } from '../support/stack.ts';

const MiB = 1024 * 1024;
/** More than a stream's largest window. */
const BODY_BYTES = 64 * MiB;
/** Enough that windows of 8 MiB each would hold far more than the tunnel's budget. */
const STALLED = 24;

/**
 * Transfers whose reader stopped (a client that stopped reading a download, an
 * app that stopped reading an upload) hold what their stream's window let
 * through, and no more. They must never take a whole tunnel: everything else
 * on it, other apps of the same connector group included, goes on being
 * served. One connector with one tunnel, so that every stream shares it.
 */
describe('readers that stop hold a bounded part of the tunnel', function () {
  this.timeout(90_000);
  let setup: ConnectorStack;
  let stack: Stack;
  let connector: RunningConnector;
  const stalled: AbortController[] = [];

  before(async () => {
    setup = await startConnectorStack({ tmpPrefix: 'gatehouse-slow-readers-' });
    stack = setup.stack;
    connector = await setup.startConnector('readers', ['--tunnels', '1']);
  });
  afterEach(async () => {
    for (const controller of stalled.splice(0)) controller.abort();
    // The aborted streams close a moment later; the next test starts from a quiet tunnel.
    const inFlight = (): number => stack.gateway.connectors!.tunnels.sessions().reduce((sum, session) => sum + session.inFlight, 0);
    for (let waited = 0; waited < 50 && inFlight() > 0; waited++) await sleep(100);
  });
  after(async () => {
    // Killed, not drained: the stalled uploads' streams would hold a graceful stop for its whole deadline.
    await setup?.stop();
  });

  /** A request that must be answered promptly although the stalled transfers fill their windows. */
  const prompt = async (url: string, init: { method?: 'POST'; body?: Buffer } = {}): Promise<{ status: number; body: Buffer; ms: number }> => {
    const started = performance.now();
    const response = await request(url, { dispatcher: setup.agent, headersTimeout: 8000, bodyTimeout: 8000, ...init });
    const body = Buffer.from(await response.body.arrayBuffer());
    return { status: response.statusCode, body, ms: performance.now() - started };
  };

  it('downloads nobody reads leave room for other apps, and each still delivers its bytes once read', async () => {
    // A crowd: all at once, each on a connection of its own.
    const downloads = await Promise.all(
      Array.from({ length: STALLED }, async () => {
        const controller = new AbortController();
        stalled.push(controller);
        const response = await request(`${stack.urls.open}/download?bytes=${BODY_BYTES}`, { dispatcher: setup.agent, signal: controller.signal });
        assert.equal(response.statusCode, 200);
        return response;
      }),
    );
    // The bodies are not read: each stream's window fills, and stays full. Before the gateway holds anything, the
    // kernel's buffers of every client connection fill (megabytes each on loopback), which takes a while on a busy
    // machine: read until what the gateway holds stops growing.
    // What the gateway holds for them, received from the tunnel and not read: the windows' sum, not 8 MiB each
    // (what a stream alone may have). The windows shrink as the crowd's streams open; the first few opened with
    // larger windows before the others, hence the margin.
    const held = (): { streams: number; unread: number } => {
      const reports = stack.gateway.connectors!.tunnels.sessions().flatMap((session) => session.describeOpenStreams());
      const unread = reports.reduce((sum, report) => sum + report.h2.readableLength + (report.socket?.readableLength ?? 0), 0);
      return { streams: reports.length, unread };
    };
    let unread = -1;
    for (let waited = 0, still = 0; waited < 120 && still < 3; waited++) {
      await sleep(250);
      const now = held().unread;
      still = now === unread && now >= STALLED * TUNNEL_MIN_STREAM_WINDOW_BYTES ? still + 1 : 0;
      unread = now;
    }
    assert.equal(held().streams, STALLED);
    assert.ok(unread <= 2 * TUNNEL_STREAM_BUFFER_BYTES, `the stalled downloads hold ${(unread / MiB).toFixed(1)} MiB at the gateway`);
    assert.ok(unread >= STALLED * TUNNEL_MIN_STREAM_WINDOW_BYTES, `each stalled download filled its window (${unread} bytes held)`);

    const window = await stack.gateway.metrics.getSingleMetricAsString('gatehouse_tunnel_stream_window_bytes');
    assert.match(window, /gatehouse_tunnel_stream_window_bytes\{connector_group="default"\} 524288$/m, 'the 24 streams in use share the budget: 512 KiB each');

    const other = await prompt(`${stack.urls.slow}/after-stalled-downloads`);
    assert.equal(other.status, 200, `another app of the group is served (took ${Math.round(other.ms)} ms): ${other.body.toString('utf8', 0, 200)}`);
    const same = await prompt(`${stack.urls.open}/download?bytes=${4 * MiB}`);
    assert.equal(same.status, 200);
    assert.equal(same.body.length, 4 * MiB, 'a download of the same app that is read goes through in full');

    // A stalled download was only waiting: read now, it delivers every byte.
    const hash = createHash('sha256');
    let received = 0;
    for await (const chunk of downloads[0]!.body) {
      received += (chunk as Buffer).length;
      hash.update(chunk as Buffer);
    }
    assert.equal(received, BODY_BYTES);
    assert.equal(hash.digest('hex'), patternSha256(BODY_BYTES));
  });

  it('uploads an app never reads leave room for other uploads, and the connector holds a bounded part of them', async () => {
    const pid = connector.process.child.pid!;
    const before = rssOf(pid);
    for (let n = 0; n < STALLED; n++) {
      const controller = new AbortController();
      stalled.push(controller);
      request(`${stack.urls.open}/stalled-upload`, {
        dispatcher: setup.agent,
        method: 'POST',
        body: patternStream(BODY_BYTES),
        signal: controller.signal,
      }).catch(() => undefined);
    }
    // At the connector, what its streams' windows let through waits for the app, once the app's socket buffers are
    // full: windows of 8 MiB each would be 192 MiB; shared out of TUNNEL_CONNECTOR_STREAM_BUFFER_BYTES, 2 MiB each.
    // Read until the growth stops (or passes the bound): filling the kernel's buffers first takes a while.
    const limit = TUNNEL_CONNECTOR_STREAM_BUFFER_BYTES + 32 * MiB;
    let grown = 0;
    for (let waited = 0, last = -Infinity, still = 0; waited < 30 && grown < limit; waited++) {
      await sleep(500);
      grown = rssOf(pid) - before;
      still = grown - last < 2 * MiB ? still + 1 : 0;
      if (waited >= 6 && still >= 2) break;
      last = grown;
    }
    assert.ok(grown < limit, `the connector grew by ${(grown / MiB).toFixed(0)} MiB`);

    const body = Buffer.alloc(2 * MiB, 7);
    const upload = await prompt(`${stack.urls.slow}/upload`, { method: 'POST', body });
    assert.equal(upload.status, 200, `an upload to another app goes through (took ${Math.round(upload.ms)} ms): ${upload.body.toString('utf8', 0, 200)}`);
    assert.equal((JSON.parse(upload.body.toString()) as { bytes: number }).bytes, body.length);
  });

  it('uploads an app stopped reading keep their streams no longer than its backend timeout, their clients gone or not', async () => {
    // A client's close waits behind the bytes it had sent, unread: the gateway cannot see it go. What frees the
    // stream is the app's backend timeout ('slow' has 1 s), which must run while the body waits on flow control.
    // Counted by app: the previous test's uploads to another app may still hold theirs (for its 85 s).
    const inFlight = (): number =>
      stack.gateway
        .connectors!.tunnels.sessions()
        .flatMap((session) => session.describeOpenStreams())
        .filter((report) => report.app === 'slow').length;
    const settled: Promise<unknown>[] = [];
    for (let n = 0; n < STALLED; n++) {
      const controller = new AbortController();
      stalled.push(controller);
      const body = patternStream(BODY_BYTES);
      settled.push(
        request(`${stack.urls.slow}/stalled-upload`, { dispatcher: setup.agent, method: 'POST', body, signal: controller.signal }).catch(() => undefined),
      );
      // Half leave at once; the other half stay, waiting for an answer.
      if (n % 2 === 0) setTimeout(() => controller.abort(), 300);
    }
    for (let waited = 0; waited < 20 && inFlight() < STALLED / 2; waited++) await sleep(50);
    assert.ok(inFlight() >= STALLED / 2, `the uploads hold tunnel streams (${inFlight()} open)`);
    const started = performance.now();
    for (let waited = 0; waited < 100 && inFlight() > 0; waited++) await sleep(100);
    assert.equal(inFlight(), 0, `every upload's stream is freed (${inFlight()} still open ${Math.round(performance.now() - started)} ms later)`);
    await Promise.all(settled);
  });
});
