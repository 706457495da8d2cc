import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BrowserClient } from '../../dev/lib/browser-client.ts';
import { figures, growth, settle, type Figures } from '../../soak/lib/probes.ts';
import { startConnectorStack, type ConnectorStack } from '../support/connector-stack.ts';
import { signIn, type Stack } from '../support/stack.ts';

/**
 * The soak's leak check on a real stack and connector: a request leaves its tunnel stream idle in the agent's
 * keep-alive pool for TUNNEL_AGENT_FREE_STREAM_TIMEOUT_MS. When the baseline held such a stream and the last request
 * before the check left one too, nothing "grew", yet a stream is in flight: the check must wait for it to close
 * (it reported a leak before), and the stream's description says what it is.
 */
describe('soak leak check: an idle keep-alive stream at the baseline and at the end', function () {
  this.timeout(90_000);
  let setup: ConnectorStack;
  let stack: Stack;
  let browser: BrowserClient;

  before(async () => {
    setup = await startConnectorStack({ tmpPrefix: 'gatehouse-settle-' });
    stack = setup.stack;
    await setup.startConnector('connector', ['--tunnels', '1']);
    browser = stack.browser();
    await signIn(stack, browser, 'alice');
  });
  after(async () => {
    await setup?.stop();
  });

  const read = (): Promise<Figures> => figures(stack.gateway);

  const get = async (): Promise<void> => {
    const response = await browser.request(`${stack.urls.wiki}/account`, { headers: { accept: 'application/json' } });
    await response.text();
    assert.equal(response.status, 200);
  };

  /** Figures once the request's stream went back to the agent's pool (that happens just after the answer was sent). */
  const withIdleStream = async (): Promise<Figures> => {
    for (let waited = 0; waited < 10_000; waited += 20) {
      const now = await read();
      if (now.openStreams.some((stream) => stream.socket?.idle)) return now;
      await sleep(20);
    }
    assert.fail('the stream never went idle');
  };

  it('waits for the idle stream to close instead of reporting it as leaked, and describes it', async () => {
    await get();
    const before = await withIdleStream();
    assert.equal(before.streamsInFlight, 1);
    const [stream] = before.openStreams;
    assert.equal(stream?.app, 'wiki');
    assert.match(stream?.requestId ?? '', /^[\w-]{8,}$/);
    assert.equal(stream?.streamsSince, 0);
    assert.equal(stream?.h2.destroyed, false);
    assert.equal(stream?.socket?.idle, true);
    assert.equal(stream?.socket?.owned, undefined);

    await get();
    const end = await withIdleStream();
    assert.deepEqual(growth(before, end), [], 'nothing grew: the baseline held an idle stream too');
    assert.equal(end.streamsInFlight, 1);

    const settled = await settle(before, read, 15_000, 100);
    assert.equal(settled.streamsInFlight, 0, `still open: ${JSON.stringify(settled.openStreams)}`);
    assert.deepEqual(growth(before, settled), []);
  });
});
