import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Agent } from 'undici';
import { startConnectorStack, type ConnectorStack } from '../../support/connector-stack.ts';
import type { Stack } from '../../support/stack.ts';

interface Answer {
  readonly status: number;
  readonly retryAfter: string | undefined;
  readonly code: string | undefined;
}

/**
 * The request queue through a real connector with one tunnel of two streams:
 * a burst larger than that waits for a stream instead of being refused.
 */
describe('the request queue (through a connector)', function () {
  this.timeout(60_000);
  let setup: ConnectorStack;
  let stack: Stack;
  let agent: Agent;

  before(async () => {
    setup = await startConnectorStack({
      tmpPrefix: 'gatehouse-queue-',
      agentConnections: 64,
      configure: (config) => ({
        ...config,
        connectors: { ...config.connectors!, tunnels: { maxStreams: 2, maxPerConnector: 1, queue: { maxLength: 4, maxWait: '2s' } } },
        // The group's whole capacity for the one app under test: the per-app share is tested in stream-exhaustion.test.ts.
        apps: config.apps.map((app) => (app.id === 'open' ? { ...app, limits: { streams: '100%' } } : app)),
      }),
    });
    ({ stack, agent } = setup);
    await setup.startConnector('connector', ['--tunnels', '1']);
  });
  after(async () => {
    await setup?.stop();
  });

  const tunnels = () => stack.gateway.connectors!.tunnels;
  const inFlight = (): number =>
    tunnels()
      .sessions('default')
      .reduce((sum, session) => sum + session.inFlight, 0);

  /** An answer that takes `ms` (an event stream of one event). */
  const get = async (ms: number, tag: string, signal?: AbortSignal): Promise<Answer> => {
    const response = await request(`${stack.urls.open}/sse?count=1&every=${ms}&tag=${tag}`, {
      dispatcher: agent,
      headers: { accept: 'application/json' },
      ...(signal ? { signal } : {}),
    });
    const text = await response.body.text();
    const retryAfter = response.headers['retry-after'];
    const code = response.statusCode === 200 ? undefined : (JSON.parse(text) as { error: { code: string } }).error.code;
    return { status: response.statusCode, retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined, code };
  };

  /** Streams kept alive idle are closed once a request waits, or after the agent's idle timeout: nothing stays. */
  const settled = async (): Promise<void> => {
    for (let waited = 0; waited < 10_000 && (inFlight() > 0 || tunnels().waiting('default') > 0); waited += 100) await sleep(100);
    assert.equal(tunnels().waiting('default'), 0, 'nobody left in the queue');
    assert.equal(inFlight(), 0, 'no stream left open');
  };

  it('queues a burst larger than the stream limit, and serves every request', async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, (_, index) => get(300, `burst-${index}`)));
    assert.deepEqual(
      answers.map((answer) => answer.status),
      [200, 200, 200, 200, 200, 200],
    );
    const metrics = await stack.gateway.metrics.getSingleMetricAsString('gatehouse_tunnel_queue_requests_total');
    assert.match(metrics, /gatehouse_tunnel_queue_requests_total\{connector_group="default",outcome="served"\} [1-9]/);
    await settled();
  });

  it('refuses with 503 and Retry-After when the queue is full', async () => {
    const answers = await Promise.all(Array.from({ length: 7 }, (_, index) => get(400, `full-${index}`)));
    const refused = answers.filter((answer) => answer.status !== 200);
    assert.equal(refused.length, 1, `answers: ${answers.map((answer) => answer.status).join(', ')}`);
    assert.deepEqual(refused[0], { status: 503, retryAfter: '5', code: 'ERR_NO_CONNECTOR' });
    const audit = stack.audit.ofType('forward.failed').at(-1);
    assert.equal(audit?.reason, 'queue_full');
    await settled();
  });

  it('refuses with 503 and Retry-After when the wait expires', async () => {
    const holders = [get(3000, 'hold-a'), get(3000, 'hold-b')];
    await sleep(300);
    const started = Date.now();
    const late = await get(100, 'expired');
    assert.deepEqual(late, { status: 503, retryAfter: '5', code: 'ERR_NO_CONNECTOR' });
    const waited = Date.now() - started;
    assert.ok(waited >= 1900 && waited < 2900, `refused after ${waited} ms`);
    assert.deepEqual(
      (await Promise.all(holders)).map((answer) => answer.status),
      [200, 200],
    );
    assert.ok(!stack.backend.requests.some((received) => received.path.includes('tag=expired')), 'the refused request never reached the app');
    await settled();
  });

  it('drops a request whose client left while it waited: the next one is served, nothing leaks', async () => {
    const holders = [get(1000, 'hold-c'), get(1000, 'hold-d')];
    await sleep(200);
    const gone = new AbortController();
    const abandoned = get(100, 'abandoned', gone.signal).catch((error: unknown) => error);
    await sleep(100);
    const next = get(100, 'next');
    await sleep(100);
    assert.equal(tunnels().waiting('default'), 2);
    gone.abort();
    for (let waited = 0; waited < 2000 && tunnels().waiting('default') !== 1; waited += 20) await sleep(20);
    assert.equal(tunnels().waiting('default'), 1, 'the abandoned request left the queue at once');
    assert.ok((await abandoned) instanceof Error);
    assert.equal((await next).status, 200);
    assert.deepEqual(
      (await Promise.all(holders)).map((answer) => answer.status),
      [200, 200],
    );
    assert.ok(!stack.backend.requests.some((received) => received.path.includes('tag=abandoned')), 'no stream was taken for it');
    await settled();
  });
});
