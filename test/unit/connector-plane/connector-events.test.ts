import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConnectorEvents } from '../../../src/connector-plane/connector-events.ts';

const ID = 'c-0123456789abcdef0123';

describe('connector plane: the event streams', () => {
  let server: Server;
  const events = new ConnectorEvents();

  beforeEach(async () => {
    server = createServer((_req, res) => events.openStream(ID, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });

  afterEach(async () => {
    events.closeAll();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('writes nothing to a stream it ended on disconnect, even an event sent at once after', async () => {
    const port = (server.address() as AddressInfo).port;
    const stream = await new Promise<IncomingMessage>((resolve) => get(`http://127.0.0.1:${port}/`, resolve));
    let received = '';
    stream.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
    while (!events.isConnected(ID)) await new Promise((resolve) => setImmediate(resolve));

    // What a revocation does: the notice and the end, then the configuration bump it causes (a write after the end was an uncaught error).
    events.disconnect(ID, 'revoked');
    assert.equal(events.isConnected(ID), false);
    events.broadcast('config', { version: 2 });
    await once(stream, 'end');
    assert.equal(received, 'event: revoked\ndata: {}\n\n');
  });
});
