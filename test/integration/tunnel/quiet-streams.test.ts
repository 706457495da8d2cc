import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request, type Agent } from 'undici';
import WebSocket from 'ws';
import { startConnectorStack, type ConnectorStack } from '../../support/connector-stack.ts';
import { toLoopback } from '../../support/loopback.ts';
import type { Stack } from '../../support/stack.ts';

/**
 * Streams that are quiet by design outlive the backend idle timeout; other
 * answers do not. The stack's `slow` app has a 1 s backend timeout; `open` is
 * given the same and a 2 s stream timeout.
 */
for (const path of ['direct', 'through a connector'] as const) {
  describe(`quiet streams (${path})`, function () {
    this.timeout(60_000);
    let setup: ConnectorStack;
    let stack: Stack;
    let agent: Agent;

    before(async () => {
      setup = await startConnectorStack({
        tmpPrefix: 'gatehouse-quiet-',
        connectors: path !== 'direct',
        configure: (config) => ({
          ...config,
          apps: config.apps.map((app) => (app.id === 'open' ? { ...app, timeouts: { backend: '1s', stream: '2s' } } : app)),
        }),
      });
      ({ stack, agent } = setup);
      if (path !== 'direct') await setup.startConnector('connector');
    });
    after(async () => {
      await setup?.stop();
    });

    /** Reads an event stream to its end: the events that arrived, and whether it ended cleanly. */
    const readEvents = async (url: string): Promise<{ status: number; events: string[]; cut: boolean; seconds: number }> => {
      const started = Date.now();
      const response = await request(url, { dispatcher: agent });
      const events: string[] = [];
      let cut = false;
      try {
        for await (const chunk of response.body) if (String(chunk).includes('event: tick')) events.push(String(chunk));
      } catch {
        cut = true;
      }
      return { status: response.statusCode, events, cut, seconds: (Date.now() - started) / 1000 };
    };

    it('keeps an event stream quiet for longer than the backend timeout, and delivers the event that ends the quiet', async () => {
      const answer = await readEvents(`${stack.urls.slow}/sse?count=1&every=3000`);
      assert.equal(answer.status, 200);
      assert.equal(answer.cut, false);
      assert.equal(answer.events.length, 1, 'the event sent after 3 s of quiet arrived');
      assert.ok(answer.seconds >= 2.9, `took ${answer.seconds} s`);
    });

    it('still answers 504 to a normal request quiet for longer than the backend timeout', async () => {
      const response = await request(`${stack.urls.slow}/hang`, { dispatcher: agent, headers: { accept: 'application/json' } });
      assert.equal(response.statusCode, 504);
      assert.equal(((await response.body.json()) as { error: { code: string } }).error.code, 'ERR_BACKEND_TIMEOUT');
    });

    it('closes an event stream quiet for longer than timeouts.stream', async () => {
      const answer = await readEvents(`${stack.urls.open}/sse?count=1&every=3000`);
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.events, []);
      assert.equal(answer.cut, true, 'the stream was cut, not ended as if complete');
      assert.ok(answer.seconds >= 1.9 && answer.seconds < 2.9, `closed after ${answer.seconds} s`);
    });

    it('keeps a WebSocket quiet for longer than the backend timeout', async () => {
      const socket = new WebSocket(`${stack.urls.slow.replace('https', 'wss')}/ws`, { ca: stack.ca.certPem, lookup: toLoopback, perMessageDeflate: false });
      await once(socket, 'message');
      await new Promise((resolve) => setTimeout(resolve, 2500));
      socket.send('after-the-quiet');
      const [echo] = (await once(socket, 'message')) as [Buffer];
      assert.equal(echo.toString(), 'after-the-quiet');
      socket.close();
    });

    it('closes a WebSocket quiet for longer than timeouts.stream', async () => {
      const socket = new WebSocket(`${stack.urls.open.replace('https', 'wss')}/ws`, { ca: stack.ca.certPem, lookup: toLoopback, perMessageDeflate: false });
      await once(socket, 'message');
      const started = Date.now();
      const [code, reason] = (await once(socket, 'close')) as [number, Buffer];
      const seconds = (Date.now() - started) / 1000;
      assert.ok(seconds >= 1.9 && seconds < 4, `closed after ${seconds} s`);
      assert.deepEqual({ code, reason: reason.toString() }, { code: 1001, reason: 'backend idle timeout' }, 'told why, not cut (1006)');
    });
  });
}
