import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuditLog, memorySink } from '../../../src/audit/audit-log.ts';
import { CertificateRetirement } from '../../../src/connector-plane/certificate-retirement.ts';
import { ConnectorEvents } from '../../../src/connector-plane/connector-events.ts';
import { ConnectorRegistry, type ConnectorRecord } from '../../../src/connector-plane/connector-registry.ts';
import { Heartbeat } from '../../../src/connector-plane/heartbeat.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';
import { TunnelPool } from '../../../src/tunnel/tunnel-pool.ts';

const ID = 'c-0123456789abcdef0123';

function record(fingerprint256: string): ConnectorRecord {
  return {
    id: ID,
    group: 'default',
    certificate: { serialNumber: fingerprint256, fingerprint256, notBefore: '2030-01-01T00:00:00.000Z', notAfter: '2030-02-01T00:00:00.000Z', issuedAt: 0 },
    registeredAt: 0,
    registeredBy: 'admin',
    revoked: false,
  };
}

describe('connector plane: the heartbeat', () => {
  let server: Server;
  let stream: IncomingMessage | undefined;
  let heartbeat: Heartbeat | undefined;
  const events = new ConnectorEvents();

  beforeEach(async () => {
    server = createServer((_req, res) => events.openStream(ID, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });

  afterEach(async () => {
    heartbeat?.stop();
    stream?.destroy();
    events.closeAll();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('tells a connected connector once per certificate that its renewal is due', async () => {
    const registry = new ConnectorRegistry(new MemoryStore());
    await registry.save(record('first'));
    const retirement = new CertificateRetirement({
      registry,
      tunnels: new TunnelPool(),
      events,
      audit: new AuditLog([memorySink()], { floodGuard: false }),
      clock: Date.now,
    });
    heartbeat = new Heartbeat({ intervalSeconds: 0.02, events, registry, retirement, isRenewalDue: () => true });

    const port = (server.address() as AddressInfo).port;
    stream = await new Promise<IncomingMessage>((resolve) => get(`http://127.0.0.1:${port}/`, resolve));
    let received = '';
    stream.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
    const renewals = (): number => received.split('event: renew\n').length - 1;
    const pings = (): number => received.split(': ping\n').length - 1;
    const waitFor = async (done: () => boolean): Promise<void> => {
      for (let waited = 0; !done(); waited += 10) {
        assert.ok(waited < 5000, `timed out; received ${JSON.stringify(received)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };

    heartbeat.start();
    await waitFor(() => pings() >= 5);
    assert.equal(renewals(), 1);
    await registry.save(record('second'));
    const before = pings();
    await waitFor(() => pings() >= before + 5);
    assert.equal(renewals(), 2);
  });
});
