import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request, type Agent } from 'undici';
import { logLines } from '../../dev/lib/connector-process.ts';
import { startConnectorStack, type ConnectorStack } from '../support/connector-stack.ts';
import type { Stack } from '../support/stack.ts';

describe('graceful shutdown with real connectors', function () {
  this.timeout(120_000);
  let setup: ConnectorStack;
  let stack: Stack;
  let agent: Agent;

  before(async () => {
    setup = await startConnectorStack({ tmpPrefix: 'gatehouse-shutdown-connector-' });
    ({ stack, agent } = setup);
  });
  afterEach(async () => {
    await setup.stopConnectors();
  });
  after(async () => {
    await setup?.stop();
  });

  it('a gateway that stops sends GOAWAY: the connector drains and dials again, and logs no error', async () => {
    const connector = await setup.startConnector('goaway');
    await stack.restartGateway();
    await connector.process.waitFor(/tunnel-1 link: the service is going away; dialling again/);
    await connector.process.waitFor(/tunnel-1 link connected again/, 30_000);
    await connector.process.waitFor(/tunnel-2 link connected again/, 30_000);
    const response = await request(`${stack.urls.open}/hello`, { dispatcher: agent });
    assert.equal(response.statusCode, 200);
    await response.body.text();
    const lines = logLines(connector.process.stdout());
    const goingAway = lines.filter((line) => line['msg'] === 'the service is going away: streams in flight finish, dialling again');
    assert.ok(goingAway.length >= 2, `each tunnel heard the GOAWAY: ${connector.process.stdout()}`);
    const errors = lines.filter((line) => line['level'] === 'error' || line['level'] === 'fatal');
    assert.deepEqual(errors, [], 'no error logged');
  });

  it('on SIGTERM the connector lets a stream in flight finish and exits 0; a second signal exits 1 at once', async () => {
    const connector = await setup.startConnector('sigterm');
    // 8 events, 200 ms apart: still streaming when the signal comes.
    const response = await request(`${stack.urls.open}/sse?count=8&every=200`, { dispatcher: agent });
    assert.equal(response.statusCode, 200);
    const body = response.body.text();
    const exited = once(connector.process.child, 'exit') as Promise<[number | null]>;
    connector.process.child.kill('SIGTERM');
    const events = (await body).match(/event: tick/g) ?? [];
    assert.equal(events.length, 8, 'the stream was not cut short');
    const [code] = await exited;
    assert.equal(code, 0, connector.process.stderr());

    const second = await setup.startConnector('second-signal');
    const hanging = request(`${stack.urls.open}/hang`, { dispatcher: agent }).catch(() => undefined);
    await second.process.waitFor(/"msg":"tunnel stream opened"|"appId":"open"/, 5_000).catch(() => undefined);
    const secondExit = once(second.process.child, 'exit') as Promise<[number | null]>;
    second.process.child.kill('SIGTERM');
    await second.process.waitFor(/SIGTERM, stopping/);
    const at = Date.now();
    second.process.child.kill('SIGTERM');
    const [secondCode] = await secondExit;
    assert.equal(secondCode, 1);
    assert.ok(Date.now() - at < 2000);
    assert.match(second.process.stderr(), /SIGTERM again, exiting now/);
    void hanging;
  });
});
