import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect as h2Connect, createServer as createH2Server, type ClientHttp2Session, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDevCa } from '../../../dev/lib/dev-ca.ts';
import { patternSha256, patternStream } from '../../../dev/lib/pattern-body.ts';
import { connectOrigin } from '../../../src/connector/origin.ts';
import { OriginReads, queueLimitFor, readSizeFor } from '../../../src/connector/origin-reads.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('OriginReads: the app read in pieces sized to what the stream may send', () => {
  it('reads at most the send window, as a power of two from 16 to 64 KiB', () => {
    assert.equal(readSizeFor(8 * MiB), 64 * KiB);
    assert.equal(readSizeFor(64 * KiB), 64 * KiB);
    assert.equal(readSizeFor(48 * KiB), 32 * KiB);
    assert.equal(readSizeFor(32 * KiB), 32 * KiB);
    assert.equal(readSizeFor(16 * KiB), 16 * KiB);
    assert.equal(readSizeFor(1 * KiB), 16 * KiB, 'never below 16 KiB');
    assert.equal(readSizeFor(0), 16 * KiB);
  });

  it('lets one read wait on a stream with a small window, up to four with a large one', () => {
    assert.equal(queueLimitFor(32 * KiB), 32 * KiB);
    assert.equal(queueLimitFor(128 * KiB), 64 * KiB);
    assert.equal(queueLimitFor(512 * KiB), 128 * KiB);
    assert.equal(queueLimitFor(8 * MiB), 256 * KiB);
  });

  for (const secure of [false, true])
    describe(`between an app over ${secure ? 'TLS' : 'TCP'} and an HTTP/2 stream`, () => {
      const BODY = 8 * MiB;
      /** What the client of the stream gives it: the gateway's window once its streams share out the budget. */
      const WINDOW = 32 * KiB;
      let app: Server | TlsServer;
      let tunnel: Http2Server;
      let client: ClientHttp2Session;
      const served: Array<{ stream: ServerHttp2Stream; origin: Socket }> = [];
      let speakFirst = false;

      before(async () => {
        const answer = (socket: Socket): void => {
          socket.on('error', () => undefined);
          // The app answers at once, before the stream was even spliced when it speaks first.
          patternStream(BODY).pipe(socket);
        };
        const ca = createDevCa();
        const issued = ca.issueServerCertificate(['localhost']);
        app = secure
          ? createTlsServer({ cert: issued.certPem, key: issued.keyPem, allowHalfOpen: true }, answer)
          : createServer({ allowHalfOpen: true }, answer);
        app.listen(0, '127.0.0.1');
        await once(app, 'listening');
        const port = (app.address() as AddressInfo).port;
        const origin = secure
          ? { internalUrl: `https://127.0.0.1:${port}`, tls: { ca: ca.certPem, servername: 'localhost' } }
          : { internalUrl: `http://127.0.0.1:${port}` };
        tunnel = createH2Server();
        tunnel.on('stream', (stream) => {
          stream.on('error', () => undefined);
          const reads = new OriginReads();
          void connectOrigin(origin, { onread: reads.onread }).then(async (origin) => {
            if (speakFirst) await sleep(200);
            assert.equal(reads.adopted, true, 'the connection is read through onread');
            stream.respond({ ':status': 200 });
            reads.attach(stream, origin);
            stream.once('close', () => origin.destroy());
            served.push({ stream, origin });
          });
        });
        tunnel.listen(0, '127.0.0.1');
        await once(tunnel, 'listening');
        client = h2Connect(`http://127.0.0.1:${(tunnel.address() as AddressInfo).port}`, { settings: { initialWindowSize: WINDOW } });
        await once(client, 'remoteSettings');
      });
      after(() => {
        client?.destroy();
        tunnel?.close();
        app?.close();
      });

      const open = async (): Promise<{ read: () => Promise<{ bytes: number; sha256: string }>; served: { stream: ServerHttp2Stream; origin: Socket } }> => {
        const request = client.request({ ':path': '/' });
        request.end();
        await once(request, 'response');
        for (let waited = 0; waited < 100 && served.length === 0; waited++) await sleep(10);
        const one = served.shift()!;
        return {
          served: one,
          read: async () => {
            const hash = createHash('sha256');
            let bytes = 0;
            for await (const chunk of request) {
              bytes += (chunk as Buffer).length;
              hash.update(chunk as Buffer);
            }
            return { bytes, sha256: hash.digest('hex') };
          },
        };
      };

      it('holds one read of the window while the client does not read, and delivers every byte once it does', async () => {
        speakFirst = false;
        const { read, served: one } = await open();
        // Nobody reads the response: the window fills, the stream holds what was read for it, the app's socket waits.
        await sleep(300);
        assert.ok(one.stream.writableLength <= WINDOW, `the stream holds ${one.stream.writableLength} bytes waiting for the window`);
        assert.equal(one.origin.readableLength, 0, "nothing waits in the app socket's own buffer");
        assert.ok(one.origin.bytesRead <= 4 * WINDOW, `read ${one.origin.bytesRead} bytes from the app for a ${WINDOW}-byte window`);
        const { bytes, sha256 } = await read();
        assert.equal(bytes, BODY);
        assert.equal(sha256, patternSha256(BODY), "the app's FIN ends the stream after its last byte");
      });

      it('keeps what the app sent before the stream was attached, in order', async () => {
        speakFirst = true;
        const { read } = await open();
        const { bytes, sha256 } = await read();
        assert.equal(bytes, BODY);
        assert.equal(sha256, patternSha256(BODY));
      });
    });
});
