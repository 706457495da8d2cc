import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { createDevCa } from '../../../dev/lib/dev-ca.ts';
import { ConnectorEvents } from '../../../src/connector/connector-events.ts';
import { GatehouseError } from '../../../src/errors/index.ts';
import { connectorMetrics } from '../../../src/metrics/connector-metrics.ts';
import { HistogramCells } from '../../../src/metrics/histogram-cells.ts';
import { createGatewayMetrics } from '../../../src/metrics/gateway-metrics.ts';
import { createMetricsRegistry } from '../../../src/metrics/registry.ts';
import { instrumentSessionStore } from '../../../src/metrics/store-metrics.ts';
import { MemorySessionStore, type SessionStore } from '../../../src/session/session-store.ts';
import { parseExposition } from '../../integration/metrics/scrape.ts';

async function samples(registry: ReturnType<typeof createMetricsRegistry>): Promise<(name: string, labels?: Record<string, string>) => number> {
  const parsed = parseExposition(await registry.metrics());
  return (name, labels = {}) =>
    parsed
      .filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
      .reduce((sum, sample) => sum + sample.value, 0);
}

describe('metrics: the parts that count', function () {
  it('times every session store operation and counts those that fail, passing results and errors through unchanged', async function () {
    const registry = createMetricsRegistry();
    const memory = new MemorySessionStore();
    const unavailable = new GatehouseError('ERR_STORE_UNAVAILABLE', 'redis_unreachable');
    const failing: SessionStore = { ...bind(memory), consumeState: () => Promise.reject(unavailable) };
    const store = instrumentSessionStore(failing, createGatewayMetrics(registry));
    await store.revoke('a', 1, 100, 2);
    assert.equal(await store.isRevoked('a', 1, 3), true);
    assert.equal(await store.isRevoked('b', 1, 3), false);
    await assert.rejects(store.consumeState('s', 100, 2), (error) => error === unavailable);
    assert.equal(await store.putSideData('a', { idToken: 't' }, 100, 2), true);
    const value = await samples(registry);
    assert.equal(value('gatehouse_store_operation_duration_seconds_count', { operation: 'is_revoked' }), 2);
    assert.equal(value('gatehouse_store_operation_duration_seconds_count', { operation: 'revoke' }), 1);
    assert.equal(value('gatehouse_store_operation_duration_seconds_count', { operation: 'consume_state' }), 1);
    assert.equal(value('gatehouse_store_operation_duration_seconds_count', { operation: 'put_side_data' }), 1);
    assert.equal(value('gatehouse_store_errors_total', { operation: 'consume_state' }), 1);
    assert.equal(value('gatehouse_store_errors_total'), 1);
  });

  it('reads a histogram in cumulative buckets, as Prometheus expects', async function () {
    const registry = createMetricsRegistry();
    const histogram = new HistogramCells(registry, { name: 'test_seconds', help: 'test', labelName: 'app', buckets: [0.1, 1] });
    for (const value of [0.05, 0.1, 0.5, 2]) histogram.observe('wiki', value);
    histogram.observe('crm', 0.5);
    const text = await registry.metrics();
    assert.match(text, /^# TYPE test_seconds histogram$/m);
    const value = await samples(registry);
    assert.equal(value('test_seconds_bucket', { app: 'wiki', le: '0.1' }), 2, 'a value on a bound counts in it');
    assert.equal(value('test_seconds_bucket', { app: 'wiki', le: '1' }), 3);
    assert.equal(value('test_seconds_bucket', { app: 'wiki', le: '+Inf' }), 4);
    assert.equal(value('test_seconds_count', { app: 'wiki' }), 4);
    assert.equal(value('test_seconds_sum', { app: 'wiki' }), 2.65);
    assert.equal(value('test_seconds_count', { app: 'crm' }), 1);
  });

  it("follows the connector's links and certificate from its events, and its streams from the tunnels", async function () {
    const registry = createMetricsRegistry();
    const metrics = connectorMetrics(registry);
    assert.equal(connectorMetrics(registry), metrics, 'one set per registry: a connector run again counts on');
    const ca = createDevCa({ commonName: 'metrics test CA' });
    const first = ca.issueServerCertificate(['connector'], { validDays: 10 });
    const renewed = ca.issueServerCertificate(['connector'], { validDays: 30 });
    const events = new ConnectorEvents();
    const detach = metrics.attach(events, { connectorId: 'c1', group: 'default', certPem: first.certPem });
    events.emit('linkUp', { link: 'control', reconnected: false });
    events.emit('linkUp', { link: 'tunnel-0', reconnected: false });
    events.emit('linkUp', { link: 'tunnel-1@instance-a', reconnected: false });
    events.emit('linkGoingAway', { link: 'tunnel-0', delayMs: 0 });
    let value = await samples(registry);
    assert.equal(value('gatehouse_connector_links_up', { link: 'control' }), 1);
    assert.equal(value('gatehouse_connector_links_up', { link: 'tunnel' }), 1);
    const expiry = (pem: string): number => Math.floor(Date.parse(new X509Certificate(pem).validTo) / 1000);
    assert.equal(value('gatehouse_connector_certificate_expiry_timestamp_seconds', { connector: 'c1', connector_group: 'default' }), expiry(first.certPem));
    events.emit('certificateRenewed', { notAfter: new X509Certificate(renewed.certPem).validTo });

    // A stream spliced to its app: in flight until closed, its bytes counted while open and after.
    const origin = Object.assign(new PassThrough(), { bytesRead: 0, bytesWritten: 0 });
    const closed = metrics.streams.spliced(origin);
    origin.bytesRead = 1000;
    origin.bytesWritten = 10;
    metrics.streams.refused('origin_refused');
    metrics.streams.refused('unknown_app');
    metrics.streams.originReset();
    value = await samples(registry);
    assert.equal(value('gatehouse_connector_certificate_expiry_timestamp_seconds'), expiry(renewed.certPem));
    assert.equal(value('gatehouse_connector_streams_in_flight'), 1);
    assert.equal(value('gatehouse_connector_origin_bytes_total', { direction: 'received' }), 1000);
    closed();
    closed();
    value = await samples(registry);
    assert.equal(value('gatehouse_connector_streams_in_flight'), 0);
    assert.equal(value('gatehouse_connector_streams_total'), 1);
    assert.equal(value('gatehouse_connector_origin_bytes_total', { direction: 'received' }), 1000, 'counted once');
    assert.equal(value('gatehouse_connector_origin_bytes_total', { direction: 'sent' }), 10);
    assert.equal(value('gatehouse_connector_streams_refused_total', { reason: 'origin_refused' }), 1);
    assert.equal(value('gatehouse_connector_streams_refused_total', { reason: 'unknown_app' }), 1);
    assert.equal(value('gatehouse_connector_origin_errors_total', { code: 'origin_refused' }), 1);
    assert.equal(value('gatehouse_connector_origin_errors_total', { code: 'origin_reset' }), 1);
    assert.equal(value('gatehouse_connector_origin_errors_total'), 2, 'an unknown app is not an origin error');

    events.emit('stopped', { reason: { kind: 'requested' } });
    detach();
    events.emit('linkUp', { link: 'control', reconnected: true });
    value = await samples(registry);
    assert.equal(value('gatehouse_connector_links_up'), 0, 'stopped, and no longer listening');
  });
});

/** The memory store's methods, bound, as a plain object a test can replace one of. */
function bind(store: MemorySessionStore): SessionStore {
  return {
    revoke: (...args) => store.revoke(...args),
    isRevoked: (...args) => store.isRevoked(...args),
    consumeState: (...args) => store.consumeState(...args),
    putSideData: (...args) => store.putSideData(...args),
    getSideData: (...args) => store.getSideData(...args),
  };
}
