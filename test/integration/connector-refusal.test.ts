import assert from 'node:assert/strict';
import { ConnectorConfigStore } from '../../src/connector/config.ts';
import { createControlLink } from '../../src/connector/control-link.ts';
import { isConnectorError, type ConnectorError } from '../../src/errors/connector-error.ts';
import type { ConnectorLink, LinkContext } from '../../src/connector/link.ts';
import { CONFIG_PATH } from '../../src/protocol/connector-api.ts';
import { ServiceClient } from '../../src/connector/service-client.ts';
import type { ClientIdentity } from '../../src/connector/state.ts';
import { createTunnelLink } from '../../src/connector/data-link.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { createKeyAndCsr } from '../../src/pki/csr.ts';
import { createDevCa } from '../../dev/lib/dev-ca.ts';
import { startConnectorService, type ConnectorServiceHarness } from '../support/connector-service.ts';
import { callService } from '../support/mtls-client.ts';

/**
 * A refusal reaches a running connector through whichever of its links hears
 * it first: the control link (a 401 on /config, or the events stream's
 * `revoked`), a TLS tunnel (GOAWAY with the service's notice) or a WebSocket
 * tunnel (a 401 on the upgrade). Each link is run alone here against the real
 * service, so each path is taken for certain; all of them must stop the
 * connector with the same code and the same text.
 */
describe('connector: one refusal, whichever link learns it first (real service, real mTLS)', function () {
  this.timeout(60_000);
  let harness: ConnectorServiceHarness;
  let adminToken: string;
  const clients: ServiceClient[] = [];

  before(async function () {
    harness = await startConnectorService();
    adminToken = await harness.adminToken('alice');
  });

  after(async function () {
    for (const client of clients) client.close();
    await harness?.close();
  });

  async function register(): Promise<{ connectorId: string; identity: ClientIdentity }> {
    const { keyPem, csrPem } = createKeyAndCsr();
    const response = await callService(harness.serviceUrl, harness.service.ca.certPem, {
      path: '/.gatehouse/connector/register',
      headers: { authorization: `Bearer ${adminToken}` },
      body: { csr: csrPem, group: 'default', name: 'refusal-test' },
    });
    assert.equal(response.status, 201, response.body);
    const issued = response.json<{ connectorId: string; certificate: string }>();
    return { connectorId: issued.connectorId, identity: { keyPem, certPem: issued.certificate } };
  }

  function contextFor(identity: ClientIdentity, connectorId?: string): { context: LinkContext; store: ConnectorConfigStore; established: () => boolean } {
    const client = new ServiceClient({ serviceUrl: harness.serviceUrl, identity, ca: harness.service.ca.certPem });
    clients.push(client);
    const store = new ConnectorConfigStore(connectorId);
    let up = false;
    const context: LinkContext = {
      signal: new AbortController().signal,
      client,
      config: store,
      log: createLogger(),
      established: () => {
        up = true;
      },
    };
    return { context, store, established: () => up };
  }

  function controlLink(store: ConnectorConfigStore, client: ServiceClient): ConnectorLink {
    return createControlLink({
      pullConfig: async (signal) => {
        store.apply(await client.call({ method: 'GET', path: CONFIG_PATH, signal }));
      },
      renewalRequested: () => undefined,
    });
  }

  async function failureOf(link: ConnectorLink, context: LinkContext): Promise<ConnectorError> {
    try {
      await link.run(context);
    } catch (error) {
      assert.ok(isConnectorError(error), `a ConnectorError, got ${String(error)}`);
      return error;
    }
    assert.fail(`${link.name} ended without an error`);
  }

  function assertSame(failures: Record<string, ConnectorError>, code: string, text: RegExp): void {
    const entries = Object.entries(failures);
    for (const [link, error] of entries) {
      assert.equal(error.code, code, `${link}: ${error.code} ${error.message}`);
      assert.equal(error.retryable, false, link);
      assert.match(error.message, text, link);
    }
    const texts = new Set(entries.map(([, error]) => error.message));
    assert.equal(texts.size, 1, `one text for every link, got:\n${[...texts].join('\n')}`);
  }

  it('a certificate the service does not accept: the same ERR_CERT_REFUSED from /config, a TLS tunnel and a WebSocket tunnel', async function () {
    const stranger = createDevCa({ commonName: 'not the connector CA' }).issueServerCertificate(['connector']);
    const identity = { keyPem: stranger.keyPem, certPem: stranger.certPem };
    const control = contextFor(identity);
    const tls = contextFor(identity);
    const websocket = contextFor(identity);
    const failures = {
      control: await failureOf(controlLink(control.store, control.context.client), control.context),
      tls: await failureOf(createTunnelLink({ index: 1, transport: 'tls' }), tls.context),
      websocket: await failureOf(createTunnelLink({ index: 2, transport: 'websocket' }), websocket.context),
    };
    assertSame(
      failures,
      'ERR_CERT_REFUSED',
      /^The service refused this connector's certificate: it was not issued by this service's connector CA \(other_ca\)\. Register the connector again: gatehouse-connector register --service https:\/\/127\.0\.0\.1:\d+ --force$/,
    );
  });

  it('a revoked connector: the same ERR_CONNECTOR_REVOKED from the events stream, /config, a TLS tunnel and a WebSocket tunnel', async function () {
    const { connectorId, identity } = await register();
    const streaming = contextFor(identity, connectorId);
    const events = failureOf(controlLink(streaming.store, streaming.context.client), streaming.context);
    await waitUntil(() => harness.service.events.isConnected(connectorId));
    await harness.revoke(connectorId);

    const control = contextFor(identity, connectorId);
    const tls = contextFor(identity, connectorId);
    const websocket = contextFor(identity, connectorId);
    const failures = {
      events: await events,
      control: await failureOf(controlLink(control.store, control.context.client), control.context),
      tls: await failureOf(createTunnelLink({ index: 1, transport: 'tls' }), tls.context),
      websocket: await failureOf(createTunnelLink({ index: 2, transport: 'websocket' }), websocket.context),
    };
    assertSame(
      failures,
      'ERR_CONNECTOR_REVOKED',
      /^An administrator revoked this connector; the service refuses it from now on\. To bring it back, register it again: gatehouse-connector register --service https:\/\/127\.0\.0\.1:\d+ --force$/,
    );
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
