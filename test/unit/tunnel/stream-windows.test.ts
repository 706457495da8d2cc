import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type ClientHttp2Session, type Http2Server, type ServerHttp2Session, type Settings } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { TUNNEL_MIN_STREAM_WINDOW_BYTES, TUNNEL_STREAM_BUFFER_BYTES, TUNNEL_STREAM_WINDOW_BYTES } from '../../../src/limits.ts';
import { tunnelSessionOptions } from '../../../src/tunnel/http2-settings.ts';
import { StreamWindows, windowFor } from '../../../src/tunnel/stream-windows.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('stream windows', () => {
  describe('windowFor', () => {
    it('gives a stream alone the largest window and shares the budget out in powers of two', () => {
      assert.equal(TUNNEL_STREAM_BUFFER_BYTES, 16 * MiB);
      assert.equal(windowFor(0), TUNNEL_STREAM_WINDOW_BYTES);
      assert.equal(windowFor(1), 8 * MiB);
      assert.equal(windowFor(2), 8 * MiB);
      assert.equal(windowFor(3), 4 * MiB);
      assert.equal(windowFor(16), 1 * MiB);
      assert.equal(windowFor(17), 512 * KiB);
      assert.equal(windowFor(1000), TUNNEL_MIN_STREAM_WINDOW_BYTES);
      assert.equal(windowFor(1_000_000), TUNNEL_MIN_STREAM_WINDOW_BYTES, 'never below the floor');
    });

    it('keeps the sum of the windows within the budget above a handful of streams, whatever the count', () => {
      for (let streams = 2; streams * TUNNEL_MIN_STREAM_WINDOW_BYTES <= TUNNEL_STREAM_BUFFER_BYTES; streams++) {
        assert.ok(streams * windowFor(streams) <= TUNNEL_STREAM_BUFFER_BYTES, `${streams} streams`);
      }
    });

    it('takes another budget and bounds', () => {
      assert.equal(windowFor(64, { budgetBytes: 64 * MiB }), 1 * MiB);
      assert.equal(windowFor(1, { budgetBytes: 64 * MiB, maxWindowBytes: 2 * MiB }), 2 * MiB);
      assert.equal(windowFor(100, { budgetBytes: MiB, minWindowBytes: 64 * KiB }), 64 * KiB);
    });
  });

  describe('on a real HTTP/2 session', () => {
    let server: Http2Server;
    let client: ClientHttp2Session;
    let peer: ServerHttp2Session;

    beforeEach(async () => {
      server = createServer(tunnelSessionOptions(1000));
      server.on('stream', (stream) => stream.respond({ ':status': 200 }));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const accepted = once(server, 'session') as Promise<[ServerHttp2Session]>;
      client = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, tunnelSessionOptions(0));
      await once(client, 'connect');
      [peer] = await accepted;
    });
    afterEach(async () => {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    /** The SETTINGS frames that resized the windows the peer received from now on (the session's first one does not). */
    const settingsSeen = (): (() => number) => {
      let count = 0;
      peer.on('remoteSettings', (settings: Settings) => {
        if (settings.initialWindowSize !== TUNNEL_STREAM_WINDOW_BYTES) count += 1;
      });
      return () => count;
    };

    /** What the peer was last told: the window it may send each stream. */
    const peerWindow = async (expected: number): Promise<number> => {
      for (let tries = 0; tries < 100 && peer.remoteSettings.initialWindowSize !== expected; tries++) await sleep(10);
      return peer.remoteSettings.initialWindowSize!;
    };

    it('shrinks the window as streams open, and widens it again once they have closed', async () => {
      const windows = new StreamWindows(client, { growDelayMs: 100 });
      const streams = Array.from({ length: 20 }, () => {
        const stream = client.request({ ':path': '/' });
        windows.track(stream);
        return stream;
      });
      assert.equal(windows.streams, 20);
      assert.equal(await peerWindow(512 * KiB), 512 * KiB);

      for (const stream of streams) stream.close();
      await Promise.all(streams.map((stream) => once(stream, 'close')));
      assert.equal(windows.streams, 0);
      assert.equal(await peerWindow(8 * MiB), 8 * MiB);
    });

    it('does not count idle streams, and counts them again once in use', async () => {
      const windows = new StreamWindows(client, { growDelayMs: 100 });
      const streams = Array.from({ length: 20 }, () => client.request({ ':path': '/' }));
      for (const stream of streams) windows.track(stream);
      assert.equal(await peerWindow(512 * KiB), 512 * KiB);
      for (const _ of streams.slice(1)) windows.idle(true);
      assert.equal(windows.streams, 1);
      assert.equal(await peerWindow(8 * MiB), 8 * MiB);
      for (const _ of streams.slice(1, 17)) windows.idle(false);
      assert.equal(windows.streams, 17);
      assert.equal(await peerWindow(512 * KiB), 512 * KiB);
      for (const stream of streams) stream.close();
    });

    it('shrinks at once, and grows past a step, with slack, only once the count has stayed low', async () => {
      const windows = new StreamWindows(client, { growDelayMs: 100 });
      windows.fit(17);
      assert.equal(windows.window, 512 * KiB);
      windows.fit(16);
      await sleep(150);
      assert.equal(windows.window, 512 * KiB, 'one stream fewer: 1 MiB would fit, but not for twice as many');
      windows.fit(8);
      assert.equal(windows.window, 512 * KiB, 'not yet: the count may come back');
      await sleep(150);
      assert.equal(windows.window, 1 * MiB);
      windows.fit(9);
      assert.equal(windows.window, 1 * MiB);
    });

    it('sends no SETTINGS while the count swings past a step and back, as requests come and go in batches', async () => {
      const windows = new StreamWindows(client, { growDelayMs: 200 });
      const seen = settingsSeen();
      windows.fit(16);
      assert.equal(await peerWindow(1 * MiB), 1 * MiB);
      const before = seen();
      // Sixteen requests in use, then a batch of answers leaves four, then sixteen again: a thousand times a second.
      for (let swing = 0; swing < 50; swing++) {
        windows.fit(4);
        await sleep(2);
        windows.fit(16);
      }
      await sleep(250);
      assert.equal(seen(), before, 'no SETTINGS frame for the swings');
      assert.equal(windows.window, 1 * MiB);
      // The count stays low: the window grows once, after the delay.
      windows.fit(4);
      assert.equal(await peerWindow(2 * MiB), 2 * MiB);
      assert.equal(seen(), before + 1);
    });

    it('grows to what the count allows once a storm has passed, never destroying the session', async () => {
      const windows = new StreamWindows(client, { growDelayMs: 50 });
      for (let n = 0; n < 200; n++) windows.fit(n % 2 === 0 ? 1000 : 1);
      windows.fit(40);
      // The storm's peak holds the window at its smallest until 40 streams have held for the delay: then 128 KiB (twice 40 fit).
      assert.equal(await peerWindow(128 * KiB), 128 * KiB);
      assert.equal(client.destroyed, false);
      assert.equal(windows.window, 128 * KiB);
    });

    it('never has more SETTINGS waiting for their acknowledgement than allowed: the last window wanted wins', async () => {
      const windows = new StreamWindows(client, { maxPendingSettings: 1 });
      const seen = settingsSeen();
      for (const streams of [17, 40, 100, 1000]) windows.fit(streams);
      assert.equal(windows.window, TUNNEL_MIN_STREAM_WINDOW_BYTES, 'the window wanted last');
      assert.equal(await peerWindow(TUNNEL_MIN_STREAM_WINDOW_BYTES), TUNNEL_MIN_STREAM_WINDOW_BYTES);
      assert.equal(seen(), 2, 'the first, then the last once the first was acknowledged');
      assert.equal(client.destroyed, false);
    });
  });
});
