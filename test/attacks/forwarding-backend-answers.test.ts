import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegisteredConnector, type RunningConnector } from '../../dev/lib/connector-process.ts';
import { interimHeads } from '../support/raw-forward.ts';
import { rawHttps } from '../support/raw-http.ts';
import { startStack, type Stack } from '../support/stack.ts';

/**
 * A backend that answers one request twice (as one that ignores a request
 * body and reads it as a second request would): the extra answer must never
 * reach the next user of the same kept-alive connection or tunnel stream.
 */
async function startDoubleAnsweringBackend(): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        if (head.startsWith('GET /hop ')) {
          socket.write(
            'HTTP/1.1 200 OK\r\nConnection: X-Internal-Debug, keep-alive\r\nX-Internal-Debug: 10.1.2.3\r\nKeep-Alive: timeout=99\r\nProxy-Authenticate: Basic\r\nX-Kept: yes\r\nContent-Length: 6\r\n\r\nnormal',
          );
        } else if (head.startsWith('GET /early ')) {
          // An interim answer trying to set Gatehouse's cookie before the real one.
          socket.write('HTTP/1.1 103 Early Hints\r\nSet-Cookie: __Host-gatehouse=forged; Path=/; Secure\r\nLink: </x>; rel=preload\r\n\r\n');
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nnormal');
        } else if (head.startsWith('GET /double ')) {
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst');
          setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 8\r\nX-Smuggled: 1\r\n\r\nsmuggled'), 30);
        } else {
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nnormal');
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

for (const mode of ['direct', 'tunnel'] as const) {
  describe(`attack: backend answers that break framing (${mode})`, function () {
    this.timeout(60_000);
    let stack: Stack;
    let backend: Awaited<ReturnType<typeof startDoubleAnsweringBackend>>;
    let connector: RunningConnector | undefined;
    let dir: string;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'gatehouse-desync-'));
      backend = await startDoubleAnsweringBackend();
      stack = await startStack({
        connectors: mode === 'tunnel',
        configure: (config) => ({
          ...config,
          apps: (config.apps ?? []).map((app) => (app.id === 'open' ? { ...app, internalUrl: backend.url } : app)),
        }),
      });
      if (mode === 'tunnel') connector = await startRegisteredConnector(stack, join(dir, 'connector'));
    });
    after(async () => {
      await connector?.process.stop('SIGKILL');
      await stack?.close();
      await backend?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('reuses a connection for the next request when the backend frames its answers', async () => {
      const before = backend.connections();
      for (let index = 0; index < 3; index += 1) {
        const response = await stack.browser().request(`${stack.urls.open}/x${index}`, { headers: { accept: 'application/json' } });
        assert.equal(await response.text(), 'normal');
      }
      // Keep-alive is really on, so the next case really tests reuse.
      assert.ok(backend.connections() - before <= 1, `${backend.connections() - before} connections for 3 requests`);
    });

    it('never hands a backend’s extra answer to the next request', async () => {
      const first = await stack.browser().request(`${stack.urls.open}/double`, { headers: { accept: 'application/json' } });
      assert.equal(await first.text(), 'first');
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (let index = 0; index < 5; index += 1) {
        const next = await stack.browser().request(`${stack.urls.open}/after${index}`, { headers: { accept: 'application/json' } });
        const body = await next.text();
        assert.equal(next.headers.get('x-smuggled'), null);
        assert.notEqual(body, 'smuggled');
        assert.equal(body, 'normal');
      }
    });

    it('passes no interim (1xx) answer of the backend to the client, so none can set a cookie', async () => {
      const raw = await rawHttps(
        stack.port,
        'open.gatehouse.test',
        stack.ca.certPem,
        `GET /early HTTP/1.1\r\nHost: ${new URL(stack.urls.open).host}\r\nConnection: close\r\n\r\n`,
      );
      assert.deepEqual(interimHeads(raw), []);
      assert.match(raw, /^HTTP\/1\.1 200 /);
      assert.doesNotMatch(raw, /gatehouse=forged/i);
    });

    it("keeps the backend's hop-by-hop headers, and those its Connection names, away from the client", async () => {
      const raw = await rawHttps(
        stack.port,
        'open.gatehouse.test',
        stack.ca.certPem,
        `GET /hop HTTP/1.1\r\nHost: ${new URL(stack.urls.open).host}\r\nConnection: close\r\n\r\n`,
      );
      assert.match(raw, /^HTTP\/1\.1 200 /);
      assert.match(raw, /\r\nX-Kept: yes\r\n/i);
      assert.doesNotMatch(raw, /x-internal-debug|keep-alive: timeout=99|proxy-authenticate/i);
      // The client asked to close, and is answered so, whatever the backend said.
      assert.match(raw, /\r\nConnection: close\r\n/i);
    });
  });
}
