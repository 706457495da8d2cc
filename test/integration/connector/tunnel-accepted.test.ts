import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { ConnectorConfigStore } from '../../../src/connector/config.ts';
import { createTunnelLink } from '../../../src/connector/data-link.ts';
import type { LinkContext } from '../../../src/connector/link.ts';
import { ServiceClient } from '../../../src/connector/service-client.ts';
import type { ClientIdentity } from '../../../src/connector/state.ts';
import type { TunnelTransport } from '../../../src/connector/link-dialer.ts';
import { createLogger } from '../../../src/logging/logger.ts';
import { createKeyAndCsr } from '../../../src/pki/csr.ts';
import { startConnectorService, type ConnectorServiceHarness } from '../../support/connector-service.ts';
import { callService } from '../../support/mtls-client.ts';

/**
 * A tunnel counts as connected at one moment for both ends: when the service
 * accepted the connector's certificate (its registry lookup done) and
 * started its HTTP/2 session, not when the connector's TLS handshake ended.
 * The service's check is held here (its real registry's lookup waits on a
 * gate) so that the moment in between is there for certain.
 */
describe('connector: a tunnel is connected once the service accepted it (real service, real mTLS)', function () {
  this.timeout(60_000);
  let harness: ConnectorServiceHarness;
  let released: (() => void) | undefined;
  let entered: Promise<void>;
  let closed = false;

  /** The next certificate checks wait until `release()`; `entered` resolves once one is waiting. */
  function holdAcceptance(): void {
    const registry = harness.service.registry;
    const lookup = registry.lookup.bind(registry);
    let enter!: () => void;
    entered = new Promise<void>((resolve) => (enter = resolve));
    const gate = new Promise<void>((resolve) => (released = resolve));
    registry.lookup = async (fingerprint256) => {
      enter();
      await gate;
      return lookup(fingerprint256);
    };
  }

  beforeEach(async function () {
    harness = await startConnectorService();
    closed = false;
  });

  afterEach(async function () {
    released?.();
    released = undefined;
    if (!closed) await harness.close();
  });

  async function register(): Promise<{ identity: ClientIdentity; connectorId: string }> {
    const { keyPem, csrPem } = createKeyAndCsr();
    const response = await callService(harness.serviceUrl, harness.service.ca.certPem, {
      path: '/.gatehouse/connector/register',
      headers: { authorization: `Bearer ${await harness.adminToken('alice')}` },
      body: { csr: csrPem, group: 'default', name: 'accepted-test' },
    });
    assert.equal(response.status, 201, response.body);
    const issued = response.json<{ connectorId: string; certificate: string }>();
    return { connectorId: issued.connectorId, identity: { keyPem, certPem: issued.certificate } };
  }

  function contextFor(
    identity: ClientIdentity,
    connectorId: string,
    stop: AbortController,
  ): { context: LinkContext; established: () => boolean; client: ServiceClient } {
    const client = new ServiceClient({ serviceUrl: harness.serviceUrl, identity, ca: harness.service.ca.certPem });
    let up = false;
    const context: LinkContext = {
      signal: stop.signal,
      client,
      config: new ConnectorConfigStore(connectorId),
      log: createLogger({ level: 'silent' }),
      established: () => {
        up = true;
      },
    };
    return { context, established: () => up, client };
  }

  for (const transport of ['tls', 'websocket'] as const satisfies readonly TunnelTransport[]) {
    it(`${transport}: a service that stops while it checks the certificate never had the tunnel, and the connector never counted it`, async function () {
      const { identity, connectorId } = await register();
      holdAcceptance();
      const stop = new AbortController();
      const { context, established, client } = contextFor(identity, connectorId, stop);
      const run = createTunnelLink({ index: 1, transport }).run(context);
      const outcome = run.then(
        (value) => ({ value, up: established() }),
        (error: unknown) => ({ error, up: established() }),
      );
      await entered;
      // The connector's handshake ended well before the service's check does; give it time to (wrongly) count the tunnel.
      await delay(300);
      assert.equal(established(), false, 'connected before the service accepted the tunnel');
      const closing = harness.close();
      closed = true;
      released?.();
      await closing;
      const result = await outcome;
      stop.abort();
      client.close();
      assert.equal(result.up, false, `the connector counted a tunnel the service never had: ${JSON.stringify(result)}`);
      assert.equal(harness.service.tunnels.size, 0);
    });

    it(`${transport}: connected once the service's check ends, the service counting it too`, async function () {
      const { identity, connectorId } = await register();
      holdAcceptance();
      const stop = new AbortController();
      const { context, established, client } = contextFor(identity, connectorId, stop);
      const run = createTunnelLink({ index: 1, transport }).run(context);
      await entered;
      await delay(300);
      assert.equal(established(), false, 'connected before the service accepted the tunnel');
      released?.();
      while (!established()) await delay(10);
      assert.equal(harness.service.tunnels.size, 1, 'the connector counts a tunnel the service does not hold');
      stop.abort();
      await run;
      client.close();
    });
  }
});
