import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createConnectorHealthServer } from '../../../src/connector/health-server.ts';
import { ConnectorEvents } from '../../../src/connector/connector-events.ts';
import { GatehouseError } from '../../../src/errors/index.ts';
import { createReadiness, type StoreProbe } from '../../../src/health/readiness.ts';
import { createMetricsRegistry } from '../../../src/metrics/registry.ts';

const sqlite: StoreProbe = { kind: 'sqlite', ready: () => Promise.resolve() };
const discovered = (): Promise<unknown> => Promise.resolve({});

describe('readiness checks', () => {
  it('is ready when the identity provider is discovered, the store answers and every group has a connector', async () => {
    const readiness = createReadiness({
      discovery: discovered,
      store: sqlite,
      connectors: {
        groups: () => ['default', 'lab', 'default'],
        tunnels: (group) => (group === 'default' ? [{ connectorId: 'a' }, { connectorId: 'a' }, { connectorId: 'b' }] : [{ connectorId: 'c' }]),
      },
    });
    assert.deepEqual(await readiness(), {
      status: 'ready',
      checks: {
        idp: { ok: true, detail: 'discovered' },
        store: { ok: true, detail: 'sqlite: reachable' },
        connectors: {
          default: { ok: true, detail: '2 connectors online (3 tunnels)' },
          lab: { ok: true, detail: '1 connector online (1 tunnel)' },
        },
      },
    });
  });

  it('names the identity provider with the reason code only, never the error message', async () => {
    const error = new GatehouseError('ERR_IDP_UNAVAILABLE', 'discovery_failed:ECONNREFUSED', { cause: new Error('connect ECONNREFUSED 10.1.2.3:443 secret') });
    const report = await createReadiness({ discovery: () => Promise.reject(error), store: sqlite })();
    assert.equal(report.status, 'not_ready');
    assert.deepEqual(report.checks.idp, { ok: false, detail: 'not discovered: discovery_failed:ECONNREFUSED' });
    assert.equal(report.checks.store.ok, true);
    assert.ok(!JSON.stringify(report).includes('10.1.2.3'));
  });

  it('bounds a check that hangs', async () => {
    const report = await createReadiness({ discovery: () => new Promise(() => undefined), store: sqlite, timeoutMs: 20 })();
    assert.deepEqual(report.checks.idp, { ok: false, detail: 'not discovered: discovery is taking too long' });
  });

  it('names the store when Redis is reconnecting or does not answer, without its URL or message', async () => {
    const reconnecting = await createReadiness({ discovery: discovered, store: { kind: 'redis', ready: () => Promise.resolve(), up: () => false } })();
    assert.equal(reconnecting.status, 'not_ready');
    assert.deepEqual(reconnecting.checks.store, { ok: false, detail: 'redis: not reachable (reconnecting)' });
    const failing = Object.assign(new Error('redis://:hunter2@10.0.0.9:6379 refused'), { code: 'ECONNREFUSED' });
    const refused = await createReadiness({
      discovery: discovered,
      store: { kind: 'redis', ready: () => Promise.resolve(), up: () => true, ping: () => Promise.reject(failing) },
    })();
    assert.deepEqual(refused.checks.store, { ok: false, detail: 'redis: not reachable (ECONNREFUSED)' });
    assert.ok(!JSON.stringify(refused).includes('hunter2'));
  });

  it('names each connector group without a connector online', async () => {
    const report = await createReadiness({
      discovery: discovered,
      store: sqlite,
      connectors: { groups: () => ['default', 'lab'], tunnels: (group) => (group === 'default' ? [{ connectorId: 'a' }] : []) },
    })();
    assert.equal(report.status, 'not_ready');
    assert.equal(report.checks.connectors['default']?.ok, true);
    assert.deepEqual(report.checks.connectors['lab'], { ok: false, detail: 'no connector online: the apps of this group cannot be reached' });
  });
});

describe("the connector's readiness, from its events", () => {
  it('is ready once registered, a configuration applied and a tunnel up; not after it stopped', async () => {
    const events = new ConnectorEvents();
    const server = createConnectorHealthServer({ events, metrics: createMetricsRegistry() });
    try {
      assert.equal(server.readiness().status, 'not_ready');
      assert.equal(server.readiness().checks.registered.ok, false);
      events.emit('starting', { connectorId: 'c1', group: 'default', serviceUrl: 'https://x', stateDir: '/tmp/x', allowList: undefined });
      events.emit('linkUp', { link: 'control', reconnected: false });
      assert.deepEqual(server.readiness().checks.tunnels, { ok: false, detail: 'no tunnel up' }, 'the control link is not a tunnel');
      events.emit('configApplied', { version: 3, group: 'default', apps: ['wiki'], outsideAllowList: [] });
      events.emit('linkUp', { link: 'tunnel-0', reconnected: false });
      events.emit('linkUp', { link: 'tunnel-1@gw-2', reconnected: false });
      assert.deepEqual(server.readiness(), {
        status: 'ready',
        checks: {
          registered: { ok: true, detail: 'registered' },
          configuration: { ok: true, detail: 'version 3 applied' },
          tunnels: { ok: true, detail: '2 tunnels up' },
        },
      });
      events.emit('linkGoingAway', { link: 'tunnel-0', delayMs: 0 });
      events.emit('linkDown', { link: 'tunnel-1@gw-2', failure: { code: 'ERR_X', reason: 'x', message: 'x' }, delayMs: 0, attempt: 1 });
      assert.equal(server.readiness().status, 'not_ready');
      events.emit('linkUp', { link: 'tunnel-0', reconnected: true });
      assert.equal(server.readiness().status, 'ready');
      events.emit('stopped', { reason: { kind: 'requested' } });
      assert.deepEqual(server.readiness().checks.tunnels, { ok: false, detail: 'the connector stopped' });
    } finally {
      await server.close();
    }
    assert.equal(EventEmitter.listenerCount(events, 'linkUp'), 0, 'close() stops following the events');
  });
});
