import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { memorySink } from '../../src/audit/audit-log.ts';
import { createGateway } from '../../src/gateway/create-gateway.ts';
import { signedInAgent, startTestBackend, startThrowawayConnector, type TestBackend, type ThrowawayConnector } from '../../src/testing/index.ts';
import { startStack, type Stack } from '../support/stack.ts';

interface ErrorBody {
  error: { code: string };
}

describe('gatehouse/testing: a throwaway connector and backend in-process', function () {
  this.timeout(60_000);
  let backend: TestBackend;
  let stack: Stack;
  let app: express.Express;
  const started: ThrowawayConnector[] = [];

  before(async () => {
    backend = await startTestBackend();
    stack = await startStack({
      connectors: true,
      gatewayOptions: { testing: true },
      configure: (config) => ({
        ...config,
        apps: (config.apps ?? []).map((entry) => (entry.id === 'wiki' ? { ...entry, internalUrl: backend.url } : entry)),
      }),
    });
    // The same gateway, mounted on a plain Express app as a team's own tests would drive it.
    app = express();
    app.use((req, res, next) => stack.gateway.handler(req, res, next));
  });
  after(async () => {
    for (const connector of started) await connector.stop();
    await stack.close();
    await backend.close();
  });

  it('registers with a real admin token, runs the tunnels, and carries a signed-in request to the backend', async () => {
    const connector = await startThrowawayConnector({ gateway: stack.gateway, adminToken: await stack.adminToken('alice'), tunnels: 2 });
    started.push(connector);
    assert.match(connector.connectorId, /^c-[0-9a-f]{20}$/);
    assert.equal(connector.group, 'default');
    const registered = stack.audit.ofType('connector.registered');
    assert.ok(
      registered.some((event) => event.user?.sub === 'user-alice'),
      'registered by the admin whose token it used',
    );
    const tunnels = stack.gateway.connectors!.tunnels.sessions().filter((session) => session.connectorId === connector.connectorId);
    assert.equal(tunnels.length, 2);

    const agent = await signedInAgent(app, stack.gateway, 'wiki', { sub: 'user-bob', email: 'bob@gatehouse.test', groups: ['staff'] });
    const response = await agent.get('/through/the/tunnel').set('Accept', 'application/json');
    assert.equal(response.status, 200, response.text);
    assert.equal((response.body as { path: string }).path, '/through/the/tunnel');
    assert.ok(backend.requests.at(-1)?.headers['x-gatehouse-assertion']);

    assert.ok(existsSync(connector.stateDir));
    await connector.stop();
    await connector.stop();
    await connector.stopped;
    assert.equal(existsSync(connector.stateDir), false, 'its temporary state is removed');
    const gone = await agent.get('/after-stop').set('Accept', 'application/json');
    assert.equal(gone.status, 503);
    assert.equal((gone.body as ErrorBody).error.code, 'ERR_NO_CONNECTOR');
  });

  it('reports a revocation through `stopped`, as `gatehouse-connector run` exits on it', async () => {
    const connector = await startThrowawayConnector({ gateway: stack.gateway, adminToken: await stack.adminToken('alice') });
    started.push(connector);
    await stack.gateway.connectors!.revoke(connector.connectorId, undefined);
    await assert.rejects(connector.stopped, { code: 'ERR_CONNECTOR_REVOKED' });
    await connector.stop();
  });

  it('keeps the real registration checks: a malformed or non-admin token is refused', async () => {
    const stateDir = join(mkdtempSync(join(tmpdir(), 'gatehouse-throwaway-refused-')), 'state');
    try {
      await assert.rejects(
        () => startThrowawayConnector({ gateway: stack.gateway, adminToken: 'not-a-jwt', stateDir }),
        (error: unknown) => {
          assert.equal((error as NodeJS.ErrnoException).code, 'ERR_TOKEN_REFUSED');
          return true;
        },
      );
      const bob = await stack.adminToken('bob');
      await assert.rejects(() => startThrowawayConnector({ gateway: stack.gateway, adminToken: bob, stateDir }), { code: 'ERR_TOKEN_REFUSED' });
    } finally {
      rmSync(join(stateDir, '..'), { recursive: true, force: true });
    }
  });

  it('opens the connector listener on loopback when the gateway has not opened it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-throwaway-listen-'));
    const gateway = createGateway(
      { ...stack.config, connectors: { ...stack.config.connectors!, stateDir: join(dir, 'service'), listen: { host: '127.0.0.1', port: 8444 } } },
      { testing: true, audit: memorySink() },
    );
    try {
      assert.equal(gateway.connectors!.address(), undefined);
      const connector = await startThrowawayConnector({ gateway, adminToken: await stack.adminToken('alice') });
      const address = gateway.connectors!.address();
      assert.ok(address && address.address === '127.0.0.1' && address.port !== 8444, 'port 0 on loopback, not the configured port');
      await connector.stop();
    } finally {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
