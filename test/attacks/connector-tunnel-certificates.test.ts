import assert from 'node:assert/strict';
import type { TunnelCloseInfo } from '../../src/connector/stream-server.ts';
import type { ClientIdentity } from '../../src/connector/state.ts';
import { createKeyAndCsr } from '../../src/pki/csr.ts';
import type { TunnelSession } from '../../src/tunnel/tunnel-session.ts';
import { startConnectorService, type ConnectorServiceHarness } from '../support/connector-service.ts';
import { callService, type MtlsResponse } from '../support/mtls-client.ts';
import { dialListenerTunnels, type ListenerTunnels } from '../support/tunnel-harness.ts';

const DAY_MS = 86_400_000;

/**
 * A tunnel is authenticated once, at its handshake, and may live for days.
 * When its certificate stops being accepted (the grace period after a
 * renewal ends, or the connector is revoked) the service must close it by
 * itself: a connector that never opened an event stream, or whose stream is
 * gone, must not keep a tunnel on a retired certificate. The tunnels here are
 * real (TLS with ALPN and the WebSocket fallback, mTLS to the real listener)
 * and do nothing on their own: no event stream, no renewal, no reconnect.
 */
describe('attack: tunnels on a retired certificate (real listener, real mTLS)', function () {
  this.timeout(60_000);
  let harness: ConnectorServiceHarness;
  let caPem: string;
  let adminToken: string;
  const open: ListenerTunnels[] = [];

  before(async function () {
    // heartbeatInterval 1s (the harness's): the service looks at its connections every second.
    harness = await startConnectorService({ connectors: { renewalGrace: '10m' } });
    caPem = harness.service.ca.certPem;
    adminToken = await harness.adminToken('alice');
  });
  after(async function () {
    await harness?.close();
  });
  beforeEach(function () {
    harness.audit.clear();
    harness.clock.reset();
  });
  afterEach(async function () {
    harness.clock.reset();
    await Promise.all(open.splice(0).map((tunnels) => tunnels.close()));
  });

  const call = (path: string, identity: ClientIdentity, body?: unknown): Promise<MtlsResponse> =>
    callService(harness.serviceUrl, caPem, { path, cert: identity.certPem, key: identity.keyPem, ...(body !== undefined ? { body } : {}) });

  async function register(): Promise<{ connectorId: string; identity: ClientIdentity }> {
    const { keyPem, csrPem } = createKeyAndCsr();
    const response = await callService(harness.serviceUrl, caPem, {
      path: '/.gatehouse/connector/register',
      headers: { authorization: `Bearer ${adminToken}` },
      body: { csr: csrPem, group: 'default' },
    });
    assert.equal(response.status, 201, response.body);
    const issued = response.json<{ connectorId: string; certificate: string }>();
    return { connectorId: issued.connectorId, identity: { keyPem, certPem: issued.certificate } };
  }

  async function tunnelsOf(connectorId: string, identity: ClientIdentity): Promise<{ tunnels: ListenerTunnels; sessions: TunnelSession[] }> {
    const tunnels = await dialListenerTunnels({ serviceUrl: harness.serviceUrl, caPem, identity, transports: ['tls', 'websocket'] });
    open.push(tunnels);
    const sessions = await waitFor(() => {
      const ready = harness.service.tunnels.sessions('default').filter((session) => session.connectorId === connectorId && session.healthy);
      return ready.length === 2 ? ready : undefined;
    });
    return { tunnels, sessions };
  }

  async function openEventsAndClose(identity: ClientIdentity, connectorId: string): Promise<void> {
    const { request } = await import('node:https');
    await new Promise<void>((resolve, reject) => {
      const req = request(
        new URL('/.gatehouse/connector/events', harness.serviceUrl),
        { ca: caPem, cert: identity.certPem, key: identity.keyPem, agent: false },
        (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        },
      );
      req.once('error', reject);
      req.end();
    });
    await waitFor(() => (harness.service.events.isConnected(connectorId) ? undefined : true));
  }

  function assertRetired(infos: TunnelCloseInfo[], sessions: TunnelSession[], code: string, reason: string): void {
    for (const session of sessions) assert.equal(session.closed, true, 'the service closed its end');
    // The TLS tunnel reads the service's notice; the WebSocket one may only see the connection end.
    const [tls] = infos;
    assert.equal(tls?.reason, 'refused', JSON.stringify(tls));
    assert.deepEqual(tls?.refusal, { code, reason });
    const events = harness.audit.ofType('connector.refused').filter((event) => event.details?.['route'] === 'tunnel');
    assert.equal(events.length, 2, 'one audit event per tunnel');
    for (const event of events) {
      assert.equal(event.code, code);
      assert.equal(event.reason, reason);
    }
  }

  it('closes the tunnels of the superseded certificate when its grace period ends, for a connector without an event stream', async function () {
    const { connectorId, identity: old } = await register();
    const { tunnels, sessions } = await tunnelsOf(connectorId, old);
    harness.clock.advance(31 * DAY_MS);
    const next = createKeyAndCsr();
    const renewed = await call('/.gatehouse/connector/renew', old, { csr: next.csrPem });
    assert.equal(renewed.status, 200, renewed.body);
    assert.equal(harness.service.events.isConnected(connectorId), false, 'no event stream');

    // Within the grace period the old tunnels carry on through several heartbeats.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.ok(
      sessions.every((session) => session.healthy),
      'still up during the grace period',
    );

    harness.clock.advance(11 * 60_000);
    const infos = await withTimeout(Promise.all(tunnels.servers.map((server) => server.closed)), 10_000, 'the service did not close the old tunnels');
    assertRetired(infos, sessions, 'ERR_CERT_REFUSED', 'superseded');
  });

  it('does the same when the connector had an event stream and it closed', async function () {
    const { connectorId, identity: old } = await register();
    const { tunnels, sessions } = await tunnelsOf(connectorId, old);
    await openEventsAndClose(old, connectorId);
    harness.clock.advance(31 * DAY_MS);
    const renewed = await call('/.gatehouse/connector/renew', old, { csr: createKeyAndCsr().csrPem });
    assert.equal(renewed.status, 200, renewed.body);
    harness.clock.advance(11 * 60_000);
    const infos = await withTimeout(Promise.all(tunnels.servers.map((server) => server.closed)), 10_000, 'the service did not close the old tunnels');
    assertRetired(infos, sessions, 'ERR_CERT_REFUSED', 'superseded');
  });

  it('keeps the tunnels of the new certificate', async function () {
    const { connectorId, identity: old } = await register();
    harness.clock.advance(31 * DAY_MS);
    const next = createKeyAndCsr();
    const renewed = await call('/.gatehouse/connector/renew', old, { csr: next.csrPem });
    assert.equal(renewed.status, 200, renewed.body);
    const current = { keyPem: next.keyPem, certPem: renewed.json<{ certificate: string }>().certificate };
    const { sessions } = await tunnelsOf(connectorId, current);
    harness.clock.advance(11 * 60_000);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.ok(
      sessions.every((session) => session.healthy),
      "the current certificate's tunnels stay",
    );
  });

  it('closes every tunnel of a revoked connector at once, with the notice, without an event stream', async function () {
    const { connectorId, identity } = await register();
    const { tunnels, sessions } = await tunnelsOf(connectorId, identity);
    await harness.revoke(connectorId);
    const infos = await withTimeout(Promise.all(tunnels.servers.map((server) => server.closed)), 5_000, 'the service did not close the tunnels');
    for (const session of sessions) assert.equal(session.closed, true);
    assert.equal(infos[0]?.reason, 'refused', JSON.stringify(infos[0]));
    assert.deepEqual(infos[0]?.refusal, { code: 'ERR_CONNECTOR_REVOKED', reason: 'revoked' });
  });
});

async function waitFor<T>(probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
