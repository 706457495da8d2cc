import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type ClientHttp2Session, type Http2Server, type ServerHttp2Session } from 'node:http2';
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

    /** What the peer was last told: the window it may send each stream. */
    const peerWindow = async (expected: number): Promise<number> => {
      for (let tries = 0; tries < 100 && peer.remoteSettings.initialWindowSize !== expected; tries++) await sleep(10);
      return peer.remoteSettings.initialWindowSize!;
    };

    it('shrinks the window as streams open, and widens it again once they have closed', async () => {
      const windows = new StreamWindows(client);
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
      const windows = new StreamWindows(client);
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

    it('changes the window only past a step, with slack on the way back', () => {
      const windows = new StreamWindows(client);
      windows.fit(17);
      assert.equal(windows.window, 512 * KiB);
      windows.fit(16);
      assert.equal(windows.window, 512 * KiB, 'one stream fewer: 1 MiB would fit, but not for twice as many');
      windows.fit(8);
      assert.equal(windows.window, 1 * MiB);
      windows.fit(9);
      assert.equal(windows.window, 1 * MiB);
    });

    it('survives a storm of changes: never more SETTINGS in flight than the session allows, the last one wins', async () => {
      const windows = new StreamWindows(client);
      for (let n = 0; n < 200; n++) windows.fit(n % 2 === 0 ? 1000 : 1);
      windows.fit(40);
      assert.equal(await peerWindow(256 * KiB), 256 * KiB);
      assert.equal(client.destroyed, false);
      assert.equal(windows.window, 256 * KiB);
    });
  });
});
