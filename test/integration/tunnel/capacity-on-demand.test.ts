import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Agent } from 'undici';
import type { RunningConnector } from '../../../dev/lib/connector-process.ts';
import { startConnectorStack, type ConnectorStack } from '../../support/connector-stack.ts';
import type { Stack } from '../../support/stack.ts';

/**
 * Capacity on demand through a real connector started with one tunnel of two
 * streams: while a burst keeps its streams short, the service asks it for
 * more tunnels (up to maxPerConnector) and it opens them; once the group has
 * been quiet for scaleDownAfter, it goes back to the one it started with.
 */
describe('capacity on demand (through a connector)', function () {
  this.timeout(60_000);
  let setup: ConnectorStack;
  let stack: Stack;
  let agent: Agent;
  let connector: RunningConnector;

  before(async () => {
    setup = await startConnectorStack({
      tmpPrefix: 'gatehouse-demand-',
      agentConnections: 64,
      configure: (config) => ({
        ...config,
        connectors: {
          ...config.connectors!,
          tunnels: { maxStreams: 2, maxPerConnector: 3, scaleDownAfter: '2s', queue: { maxLength: 20, maxWait: '20s' } },
        },
        // The group's whole capacity for the one app under test: the per-app share is tested in stream-exhaustion.test.ts.
        apps: config.apps.map((app) => (app.id === 'open' ? { ...app, limits: { streams: '100%' } } : app)),
      }),
    });
    ({ stack, agent } = setup);
    connector = await setup.startConnector('connector', ['--tunnels', '1']);
  });
  after(async () => {
    await setup?.stop();
  });

  const open = (): number => stack.gateway.connectors!.tunnels.sessions('default').filter((session) => session.healthy).length;

  const slow = async (ms: number, tag: string): Promise<number> => {
    const response = await request(`${stack.urls.open}/sse?count=1&every=${ms}&tag=${tag}`, { dispatcher: agent, reset: true });
    await response.body.text();
    return response.statusCode;
  };

  const waitFor = async (what: string, check: () => boolean, ms: number): Promise<void> => {
    for (const started = Date.now(); !check(); await sleep(100)) {
      if (Date.now() - started > ms) assert.fail(`${what} within ${ms} ms (tunnels open: ${open()})`);
    }
  };

  it('opens more tunnels while the streams run short, up to maxPerConnector, and serves every request', async () => {
    await waitFor('the first tunnel', () => open() === 1, 10_000);
    let peak = 1;
    const watcher = setInterval(() => (peak = Math.max(peak, open())), 50);
    try {
      // Waves of slow requests keep the group's streams full for several seconds.
      const statuses: number[] = [];
      for (let wave = 0; wave < 4; wave += 1) {
        statuses.push(...(await Promise.all(Array.from({ length: 6 }, (_, index) => slow(1500, `w${wave}-${index}`)))));
      }
      assert.ok(
        statuses.every((status) => status === 200),
        `every request served: ${statuses.join(',')}`,
      );
    } finally {
      clearInterval(watcher);
    }
    assert.ok(peak >= 2, `the connector opened more tunnels (peak ${peak})`);
    assert.ok(peak <= 3, `never more than maxPerConnector (peak ${peak})`);
    assert.match(`${connector.process.stdout()}${connector.process.stderr()}`, /the service asked for more tunnels/);
  });

  it('goes back to the tunnels it started with once the group has been quiet', async () => {
    await waitFor('back to one tunnel', () => open() === 1, 15_000);
    assert.match(`${connector.process.stdout()}${connector.process.stderr()}`, /the demand has passed/);
    // Still serving through the tunnel it kept.
    assert.equal(await slow(10, 'after'), 200);
  });
});
