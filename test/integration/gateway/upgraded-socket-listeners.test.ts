/**
 * A WebSocket's socket carries one 'close' listener for each part of the
 * gateway that holds something for it (caps, idle timer, access log, the
 * session's sockets, the splice...). They all go with the socket, so Node's
 * "possible EventEmitter memory leak" warning past 10 of them would be a
 * false alarm in the gateway's log: an upgraded socket allows more.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AuditLog } from '../../../src/audit/audit-log.ts';
import type { GatewayConfig } from '../../../src/config/parse.ts';
import { attachServer, UPGRADED_SOCKET_MAX_LISTENERS } from '../../../src/gateway/attach-server.ts';

describe('an upgraded connection and the listeners on its close', function () {
  it('takes a close listener from every guard of a WebSocket without a leak warning', async function () {
    const server = createServer();
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    const config = { server: {} } as unknown as GatewayConfig;
    const audit = { emit: () => undefined } as unknown as AuditLog;
    const upgraded = new Promise<Duplex>((resolve) => {
      attachServer(server, {
        config,
        audit,
        upgrade: (_req: IncomingMessage, socket: Duplex) => {
          // What the guards of a WebSocket add, one each, on top of Node's own.
          for (let i = 0; i < 14; i++) socket.once('close', () => undefined);
          resolve(socket);
        },
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const req = request({
      host: '127.0.0.1',
      port: (server.address() as AddressInfo).port,
      headers: { connection: 'upgrade', upgrade: 'websocket' },
    });
    req.on('error', () => undefined);
    req.end();
    const socket = await upgraded;
    try {
      assert.ok(socket.listenerCount('close') > 10);
      assert.equal(socket.getMaxListeners(), UPGRADED_SOCKET_MAX_LISTENERS);
      // A warning is emitted on a later tick.
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning'),
        [],
      );
    } finally {
      process.off('warning', onWarning);
      socket.destroy();
      req.destroy();
      server.close();
    }
  });
});
