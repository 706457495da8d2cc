import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Agent } from 'undici';
import type { RunningConnector } from '../../../dev/lib/connector-process.ts';
import { startConnectorStack, type ConnectorStack } from '../../support/connector-stack.ts';
import type { Stack } from '../../support/stack.ts';

/**
 * Capacity on demand next to the per-app shares, through a real connector
 * started with one tunnel of four streams, in a group of several apps (each
 * may hold half of it). A crowd on one app past its share waits for its
 * share, not for the group: another tunnel would only widen that share, so
 * it must not be asked for. Apps busy below their share still get one.
 */
describe('capacity on demand: an app held at its share does not grow the group', function () {
  this.timeout(90_000);
  let setup: ConnectorStack;
  let stack: Stack;
  let agent: Agent;
  let connector: RunningConnector;
  const streams = new AbortController();

  before(async () => {
    setup = await startConnectorStack({
      tmpPrefix: 'gatehouse-demand-shares-',
      agentConnections: 64,
      configure: (config) => ({
        ...config,
        connectors: {
          ...config.connectors!,
          tunnels: { maxStreams: 4, maxPerConnector: 3, scaleDownAfter: '60s', queue: { maxLength: 20, maxWait: '30s' } },
        },
        // A third pass-through app with a backend that answers (the stack's `dead` one refuses).
        apps: config.apps.map((app) => (app.id === 'dead' ? { ...app, internalUrl: config.apps.find((other) => other.id === 'open')!.internalUrl } : app)),
      }),
    });
    ({ stack, agent } = setup);
    connector = await setup.startConnector('connector', ['--tunnels', '1']);
  });
  after(async () => {
    streams.abort();
    await setup?.stop();
  });

  const pool = () => stack.gateway.connectors!.tunnels;
  const open = (): number =>
    pool()
      .sessions('default')
      .filter((session) => session.healthy).length;

  /** A request that holds a stream for a long time (until the test ends it); its outcome is ignored. */
  const hold = (origin: string, tag: string): void => {
    void request(`${origin}/sse?count=1&every=60000&tag=${tag}`, { dispatcher: agent, reset: true, signal: streams.signal })
      .then((response) => response.body.text())
      .catch(() => undefined);
  };

  const waitFor = async (what: string, check: () => boolean, ms: number): Promise<void> => {
    for (const started = Date.now(); !check(); await sleep(100)) {
      if (Date.now() - started > ms) assert.fail(`${what} within ${ms} ms (tunnels open: ${open()}, waiting: ${pool().waiting('default')})`);
    }
  };

  it('a crowd on one app past its share opens no tunnel, however long it waits', async () => {
    await waitFor('the first tunnel', () => open() === 1, 10_000);
    for (let index = 0; index < 12; index += 1) hold(stack.urls.open, `crowd-${index}`);
    // Two streams in flight (its share of four), the rest of its part of the queue waiting.
    await waitFor('the crowd held at its share', () => pool().waiting('default', 'open') >= 5, 10_000);
    const shares = pool().appShareStats().get('default')?.get('open');
    assert.deepEqual({ held: shares?.held, limit: shares?.limit }, { held: 2, limit: 2 });
    let peak = open();
    // Several demand checks and raise intervals: a tunnel asked for would be open by then.
    for (const started = Date.now(); Date.now() - started < 5_000; await sleep(50)) peak = Math.max(peak, open());
    assert.equal(peak, 1, 'no tunnel opened for an app held at its share');
    assert.doesNotMatch(`${connector.process.stdout()}${connector.process.stderr()}`, /the service asked for more tunnels/);
  });

  it('apps busy below their share still get another tunnel', async () => {
    // The crowd still holds its two streams; one stream each for two more apps fills the group (all below their share).
    hold(stack.urls.slow, 'busy-slow');
    hold(stack.urls.dead, 'busy-dead');
    await waitFor('another tunnel', () => open() >= 2, 15_000);
    assert.match(`${connector.process.stdout()}${connector.process.stderr()}`, /the service asked for more tunnels/);
  });
});
