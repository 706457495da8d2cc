import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { exitOf, logLines, runConnectorCli, startConnectorCli } from '../../dev/lib/connector-process.ts';
import type { RunningProcess } from '../../dev/lib/processes.ts';
import { toLoopback } from '../support/loopback.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

interface Echo {
  method: string;
  path: string;
  body: string;
  headers: Record<string, string | undefined>;
}

describe('end to end through a real connector (tunnel)', function () {
  this.timeout(60_000);
  let stack: Stack;
  let dir: string;
  const running: RunningProcess[] = [];

  async function startConnector(name: string, extra: string[] = []): Promise<{ process: RunningProcess; stateDir: string; id: string }> {
    const stateDir = join(dir, name);
    const token = await stack.adminToken('alice');
    const registered = await runConnectorCli(
      ['register', '--service', stack.connectorUrl, '--state-dir', stateDir, '--ca-file', stack.connectorCaFile, '--name', name],
      {
        GATEHOUSE_CONNECTOR_TOKEN: token,
      },
    );
    assert.equal(registered.code, 0, registered.stderr);
    const id = /(c-[0-9a-f]{20})/.exec(registered.stderr + registered.stdout)?.[1] ?? '';
    const process = startConnectorCli(['run', '--state-dir', stateDir, '--log-level', 'info', ...extra]);
    running.push(process);
    await process.waitFor(/tunnel-1 link connected/);
    await process.waitFor(/tunnel-2 link connected/);
    return { process, stateDir, id };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-tunnel-e2e-'));
    stack = await startStack({ connectors: true });
  });
  after(async () => {
    for (const process of running) await process.stop('SIGKILL');
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 naming the app while no connector is online', async () => {
    const response = await stack.browser().request(`${stack.urls.open}/x`, { headers: { accept: 'application/json' } });
    assert.equal(response.status, 503);
    const body = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'ERR_NO_CONNECTOR');
    assert.match(body.error.message, /"open"/);
    assert.equal(stack.backend.requests.length, 0);
  });

  it('answers a WebSocket 503 naming the app too while no connector is online', async () => {
    const socket = new WebSocket(`${stack.urls.open.replace('https', 'wss')}/ws`, { ca: stack.ca.certPem, lookup: toLoopback, perMessageDeflate: false });
    socket.on('error', () => {});
    const [, response] = (await once(socket, 'unexpected-response')) as [unknown, NodeJS.ReadableStream & { statusCode?: number }];
    assert.equal(response.statusCode, 503);
    let text = '';
    for await (const chunk of response) text += String(chunk);
    const body = JSON.parse(text) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'ERR_NO_CONNECTOR');
    assert.match(body.error.message, /"open"/, 'the same sentence as the page, with the app filled in');
    assert.equal(stack.backend.requests.length, 0);
  });

  describe('with a connector running', () => {
    let connector: { process: RunningProcess; stateDir: string; id: string };
    before(async () => {
      connector = await startConnector('first');
    });

    it('reaches a pass-through app and a pre-auth app through the tunnel', async () => {
      const open = await stack.browser().request(`${stack.urls.open}/hello?x=1`, { headers: { accept: 'application/json' } });
      assert.equal(open.status, 200);
      assert.equal(((await open.json()) as Echo).path, '/hello?x=1');

      const browser = stack.browser();
      const { response } = await signIn(stack, browser, 'alice', '/private');
      assert.equal(response.status, 200);
      const echo = (await response.json()) as Echo;
      assert.equal(echo.path, '/private');
      assert.ok(echo.headers['x-gatehouse-assertion']);
      assert.equal(echo.headers['cookie'], undefined, 'Gatehouse cookies never reach the connector');
      // This service reads its tunnels while it writes (its configuration says so): the connector's sessions run on
      // the TLS sockets themselves, without the write-ahead stream.
      const opened = logLines(connector.process.stdout()).filter((line) => line['msg'] === 'tunnel open');
      assert.ok(opened.length >= 2, connector.process.stdout());
      assert.ok(
        opened.every((line) => line['transport'] === 'tls' && line['writeAhead'] === false),
        JSON.stringify(opened),
      );
    });

    it('carries request bodies and the request id into the connector logs', async () => {
      const response = await stack.browser().request(`${stack.urls.open}/echo-body`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', accept: 'application/json' },
        body: 'x'.repeat(100_000),
      });
      assert.equal(response.status, 200);
      const echo = (await response.json()) as Echo;
      assert.equal(echo.body.length, 100_000);
      const requestId = response.headers.get('x-request-id')!;
      assert.equal(echo.headers['x-request-id'], requestId);
      // A tunnel stream is a kept-alive connection to the app: the connector logs the id of the request that opened it.
      const seen = new Set(stack.backend.requests.map((request) => request.headers['x-request-id']));
      const logged = [...connector.process.stdout().matchAll(/"requestId":"([0-9a-f-]{36})"/g)].map((match) => match[1]);
      assert.ok(logged.length > 0 && logged.every((id) => seen.has(id)), `connector logged ${logged.join(', ')}`);
    });

    it('says whether the app refused or timed out, never where it is', async () => {
      const refused = await stack.browser().request(`${stack.urls.dead}/x`, { headers: { accept: 'application/json' } });
      assert.equal(refused.status, 502);
      const refusedText = await refused.text();
      assert.equal((JSON.parse(refusedText) as { error: { code: string } }).error.code, 'ERR_BACKEND_UNREACHABLE');
      assert.doesNotMatch(refusedText, /127\.0\.0\.1|:1\b|ECONNREFUSED/);
      const slow = await stack.browser().request(`${stack.urls.slow}/hang`, { headers: { accept: 'application/json' } });
      assert.equal(slow.status, 504);
      assert.equal(((await slow.json()) as { error: { code: string } }).error.code, 'ERR_BACKEND_TIMEOUT');
    });

    it('carries WebSockets through the tunnel', async () => {
      const socket = new WebSocket(`${stack.urls.open.replace('https', 'wss')}/ws`, { ca: stack.ca.certPem, lookup: toLoopback, perMessageDeflate: false });
      const [hello] = (await once(socket, 'message')) as [Buffer];
      assert.ok(JSON.parse(hello.toString()));
      socket.send('through-the-tunnel');
      const [echo] = (await once(socket, 'message')) as [Buffer];
      assert.equal(echo.toString(), 'through-the-tunnel');
      socket.close();
    });

    it('closes the tunnels of a revoked connector and the connector stops with a clear error', async () => {
      const extra = await startConnector('second');
      await stack.gateway.connectors!.revoke(extra.id, undefined);
      const code = await exitOf(extra.process);
      assert.equal(code, 1);
      assert.match(extra.process.stderr(), /revoked/i);
      const still = await stack.browser().request(`${stack.urls.open}/still`, { headers: { accept: 'application/json' } });
      assert.equal(still.status, 200, 'the other connector keeps serving');
      assert.ok(stack.gateway.connectors!.tunnels.sessions().every((session) => session.connectorId !== extra.id));
    });

    it('drains on SIGTERM: the connector exits 0 and the app is no longer reachable', async () => {
      assert.equal(await connector.process.stop('SIGTERM'), 0);
      const response = await stack.browser().request(`${stack.urls.open}/gone`, { headers: { accept: 'application/json' } });
      assert.equal(response.status, 503);
    });
  });

  it('works over the WebSocket transport for networks that pass only WebSocket', async () => {
    const connector = await startConnector('websocket', ['--transport', 'websocket']);
    // Its tunnels (the events stream is audited as connected too, without a transport: it opens before the tunnels).
    const connected = stack.audit
      .ofType('connector.connected')
      .filter((event) => event.details?.['connectorId'] === connector.id && event.details['tunnel'] !== undefined);
    assert.ok(connected.length >= 2 && connected.every((event) => event.details?.['transport'] === 'websocket'), JSON.stringify(connected));
    const response = await stack.browser().request(`${stack.urls.open}/over-websocket`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', accept: 'application/json' },
      body: 'y'.repeat(300_000),
    });
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as Echo).body.length, 300_000);
    const opened = logLines(connector.process.stdout()).filter((line) => line['msg'] === 'tunnel open');
    assert.ok(opened.length >= 2 && opened.every((line) => line['writeAhead'] === true), JSON.stringify(opened));
    assert.equal(await connector.process.stop('SIGTERM'), 0);
  });
});
