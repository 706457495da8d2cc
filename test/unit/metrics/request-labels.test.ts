import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppConfig } from '../../../src/config/parse.ts';
import { setRequestContext, type RequestStep } from '../../../src/request/context.ts';
import { CounterCells, MAX_COUNTER_CELLS, OTHER } from '../../../src/metrics/counter-cells.ts';
import { createGatewayMetrics, NO_APP } from '../../../src/metrics/gateway-metrics.ts';
import { createMetricsRegistry } from '../../../src/metrics/registry.ts';
import { requestMetrics, statusClass } from '../../../src/metrics/request-metrics.ts';
import { reasonCode } from '../../../src/metrics/step-metrics.ts';

const STEPS: readonly RequestStep[] = [
  'robots',
  'request-checks',
  'app-resolution',
  'health',
  'jwks',
  'signin',
  'session-gate',
  'conditional-access',
  'identity',
  'upstream',
  'error',
];
const APPS = ['wiki', 'status', 'crm'];
const CLASSES = [OTHER, '1xx', '2xx', '3xx', '4xx', '5xx', 'aborted'];

/** A small pseudo-random sequence, so a failure can be replayed. */
function sequence(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('metrics: request labels stay bounded', function () {
  let server: Server;
  let port: number;
  const registry = createMetricsRegistry();
  const metrics = createGatewayMetrics(registry);

  before(async function () {
    const middleware = requestMetrics(metrics);
    server = createServer((req, res) => {
      // What the request path would have found: an app from the configuration (or none) and a step; the status is anything.
      const url = new URL(req.url ?? '/', 'http://test');
      const app = url.searchParams.get('app');
      const step = url.searchParams.get('step');
      if (step !== 'none') {
        setRequestContext(req, {
          requestId: 'r',
          clientIp: '127.0.0.1',
          userAgent: undefined,
          ...(app ? { app: { id: app } as AppConfig } : {}),
          ...(step ? { step: step as RequestStep } : {}),
        });
      }
      middleware(req, res, () => {
        res.statusCode = Number(url.searchParams.get('status'));
        res.end(`path ${url.pathname} for user ${url.searchParams.get('user') ?? ''}`);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(async function () {
    server.close();
    await once(server, 'close');
  });

  it('counts 600 requests with random paths, users, statuses, steps and hosts in at most apps × steps × classes series', async function () {
    const random = sequence(7);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const sends: Promise<void>[] = [];
    for (let index = 0; index < 600; index++) {
      const query = new URLSearchParams({
        // 1xx cannot end a response; statusClass is checked for them below.
        status: String(200 + Math.floor(random() * 800)),
        step: random() < 0.1 ? '' : random() < 0.05 ? 'none' : pick(STEPS),
        app: random() < 0.2 ? '' : pick(APPS),
        user: `user-${index}`,
      });
      sends.push(
        new Promise<void>((resolve, reject) => {
          const req = request({ port, host: '127.0.0.1', agent, path: `/p/${index}/${Math.random()}?${query.toString()}` }, (res) => {
            res.resume();
            res.once('end', resolve);
          });
          req.once('error', reject);
          req.end();
        }),
      );
    }
    await Promise.all(sends);
    agent.destroy();
    // The last responses' close events may trail the clients' reads by a turn of the event loop.
    const read = async () => registry.getSingleMetric('gatehouse_requests_total')!.get();
    let counter = await read();
    for (let turn = 0; turn < 100 && counter.values.reduce((sum, sample) => sum + sample.value, 0) < 600; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
      counter = await read();
    }
    assert.equal(
      counter.values.reduce((sum, sample) => sum + sample.value, 0),
      600,
    );
    for (const sample of counter.values) {
      assert.ok([...APPS, NO_APP].includes(String(sample.labels['app'])), `app ${String(sample.labels['app'])}`);
      assert.ok(STEPS.includes(sample.labels['step'] as RequestStep), `step ${String(sample.labels['step'])}`);
      assert.ok(CLASSES.includes(String(sample.labels['status_class'])), `class ${String(sample.labels['status_class'])}`);
      assert.deepEqual(Object.keys(sample.labels).sort(), ['app', 'status_class', 'step'], 'no path, user or request id label');
    }
    assert.ok(counter.values.length <= (APPS.length + 1) * STEPS.length * CLASSES.length);
    const histogram = await registry.getSingleMetric('gatehouse_request_duration_seconds')!.get();
    assert.ok(histogram.values.every((sample) => Object.keys(sample.labels).every((name) => name === 'app' || name === 'le')));
  });

  it('folds status codes outside 100–599 into one class', function () {
    assert.equal(statusClass(99), OTHER);
    assert.equal(statusClass(100), '1xx');
    assert.equal(statusClass(404), '4xx');
    assert.equal(statusClass(599), '5xx');
    assert.equal(statusClass(600), OTHER);
    assert.equal(statusClass(999), OTHER);
  });

  it("keeps policy reasons to the engine's codes, without the configured detail", function () {
    assert.equal(reasonCode('grant.claims:department'), 'grant.claims');
    assert.equal(reasonCode('condition.location:corporate'), 'condition.location');
    assert.equal(reasonCode('grant.block'), 'grant.block');
  });

  it('caps the series of a counter fed unbounded values, counting the rest under "other"', async function () {
    const cells = new CounterCells(createMetricsRegistry(), { name: 'test_cells_total', help: 'test', labelNames: ['a', 'b'] });
    for (let index = 0; index < MAX_COUNTER_CELLS + 500; index++) cells.inc(`value-${index}`, 'x');
    cells.inc('value-0', 'x', '', 2);
    assert.equal(cells.size, MAX_COUNTER_CELLS + 1);
    const registry = createMetricsRegistry();
    const bounded = new CounterCells(registry, { name: 'test_bounded_total', help: 'test', labelNames: ['a', 'b', 'c'] });
    for (let index = 0; index < MAX_COUNTER_CELLS + 10; index++) bounded.inc(`a${index}`, 'b', 'c');
    bounded.inc('a0', 'b', 'c', 4);
    const { values } = await registry.getSingleMetric('test_bounded_total')!.get();
    assert.equal(values.length, MAX_COUNTER_CELLS + 1);
    assert.equal(values.find((sample) => sample.labels['a'] === 'a0')?.value, 5);
    assert.equal(values.find((sample) => sample.labels['a'] === OTHER)?.value, 10);
    assert.deepEqual(values.find((sample) => sample.labels['a'] === OTHER)?.labels, { a: OTHER, b: OTHER, c: OTHER });
  });
});
