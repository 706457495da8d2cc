import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startConnectorCli } from '../../../dev/lib/connector-process.ts';
import type { RunningProcess } from '../../../dev/lib/processes.ts';
import { registerConnector } from '../../../src/connector/register.ts';
import type { Readiness } from '../../../src/health/readiness.ts';
import { scrapeMetrics } from '../../../src/metrics/registry.ts';
import { freePort } from '../../support/free-port.ts';
import { startStack, type Stack } from '../../support/stack.ts';
import { parseExposition } from '../metrics/scrape.ts';

async function waitUntil(condition: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('health: published hosts, and a real gatehouse-connector process with --metrics-address', function () {
  this.timeout(90_000);
  let stack: Stack;
  let dir: string;
  let connector: RunningProcess | undefined;

  /** What the wiki host (a protected app) answers, without a session. */
  const probe = async (path: string, method = 'GET'): Promise<{ status: number; headers: Headers; body: string }> => {
    const response = await stack.browser().request(`${stack.urls.wiki}${path}`, { method });
    return { status: response.status, headers: response.headers, body: await response.text() };
  };
  const readiness = async (): Promise<{ status: number; report: Readiness }> => {
    const { status, body } = await probe('/.gatehouse/readyz');
    return { status, report: JSON.parse(body) as Readiness };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-health-'));
    stack = await startStack({ connectors: true });
  });
  after(async () => {
    await connector?.stop('SIGKILL');
    await stack?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers liveness on a protected app without a session, never forwarding it', async () => {
    const before = stack.backend.requests.length;
    const live = await probe('/.gatehouse/healthz');
    assert.equal(live.status, 200);
    assert.deepEqual(JSON.parse(live.body), { status: 'ok' });
    assert.equal(live.headers.get('cache-control'), 'no-store');
    assert.match(live.headers.get('content-type') ?? '', /^application\/json/);
    assert.ok(live.headers.get('x-request-id'));
    const head = await probe('/.gatehouse/healthz?probe=lb', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal((await probe('/.gatehouse/healthz', 'POST')).status, 405);
    assert.equal(stack.backend.requests.length, before, 'the backend saw none of them');
  });

  it('is not ready while the connector group of the apps has no connector online, and says so', async () => {
    const before = stack.backend.requests.length;
    const { status, report } = await readiness();
    assert.equal(status, 503);
    assert.equal(report.status, 'not_ready');
    assert.deepEqual(report.checks.idp, { ok: true, detail: 'discovered' });
    assert.equal(report.checks.store.ok, true);
    assert.deepEqual(Object.keys(report.checks.connectors), ['default']);
    assert.equal(report.checks.connectors['default']?.ok, false);
    assert.equal((await probe('/.gatehouse/readyz', 'HEAD')).status, 503);
    assert.equal(stack.backend.requests.length, before);
    assert.deepEqual(await stack.gateway.readiness(), report, 'the same report for an embedder');
  });

  it('the connector answers healthz, ready and metrics on --metrics-address; the gateway is ready once it is up', async () => {
    const stateDir = join(dir, 'connector');
    await registerConnector({ serviceUrl: stack.connectorUrl, token: await stack.adminToken(), stateDir, caFile: stack.connectorCaFile });
    const port = await freePort();
    connector = startConnectorCli(['run', '--state-dir', stateDir, '--tunnels', '2', '--metrics-address', `127.0.0.1:${port}`]);
    const [, printed] = await connector.waitFor(/metrics and health on (http:\/\/\S+) /);
    assert.equal(printed, `http://127.0.0.1:${port}`);
    const get = (path: string): Promise<Response> => fetch(`${printed}${path}`);

    for (const path of ['/healthz', '/.gatehouse/healthz']) {
      const response = await get(path);
      assert.equal(response.status, 200, path);
      assert.deepEqual(await response.json(), { status: 'ok' });
    }
    await waitUntil(async () => (await get('/ready')).status === 200, 'the connector ready');
    const ready = (await (await get('/.gatehouse/readyz')).json()) as { status: string; checks: Record<string, { ok: boolean; detail: string }> };
    assert.equal(ready.status, 'ready');
    assert.deepEqual(Object.keys(ready.checks), ['registered', 'configuration', 'tunnels']);
    assert.deepEqual(ready.checks['tunnels'], { ok: true, detail: '2 tunnels up' });

    const metrics = await get('/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
    const samples = parseExposition(await metrics.text());
    assert.equal(samples.find((sample) => sample.name === 'gatehouse_connector_links_up' && sample.labels['link'] === 'control')?.value, 1);
    assert.ok(samples.some((sample) => sample.name === 'gatehouse_connector_process_cpu_user_seconds_total'));
    assert.equal((await get('/nope')).status, 404);
    assert.equal((await fetch(`${printed}/metrics`, { method: 'POST' })).status, 405);

    await waitUntil(async () => (await readiness()).status === 200, 'the gateway ready');
    const { report } = await readiness();
    assert.deepEqual(report.checks.connectors, { default: { ok: true, detail: '1 connector online (2 tunnels)' } });
  });

  it('is not ready again once the connector stops', async () => {
    assert.equal(await connector?.stop('SIGTERM'), 0);
    connector = undefined;
    await waitUntil(async () => (await readiness()).status === 503, 'the gateway not ready');
    assert.equal((await readiness()).report.checks.connectors['default']?.ok, false);
  });

  it('counts health requests as answered by the health step', async () => {
    await probe('/.gatehouse/healthz');
    const { body } = await scrapeMetrics(stack.gateway.metrics, 'gatehouse_');
    const health = parseExposition(body).filter((sample) => sample.name === 'gatehouse_requests_total' && sample.labels['step'] === 'health');
    assert.ok(health.reduce((total, sample) => total + sample.value, 0) >= 1, 'health requests are counted with step="health"');
    assert.ok(health.every((sample) => sample.labels['app'] === 'wiki'));
  });
});
