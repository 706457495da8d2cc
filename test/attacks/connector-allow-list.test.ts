import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logLines, runConnectorCli, startConnectorCli } from '../../dev/lib/connector-process.ts';
import type { RunningProcess } from '../../dev/lib/processes.ts';
import { startStack, type Stack } from '../support/stack.ts';

interface ErrorPage {
  error: { code: string; message: string; requestId: string };
}

/**
 * A compromised (or misconfigured) service can point any app at any address:
 * the connector dials what the configuration says. Its local allow-list is
 * the bound the service cannot move. Here the service's configuration names a
 * cloud metadata address, an SSH port and a port the list does not name; a
 * real connector process, registered with `--allow` for the one real app,
 * refuses each before dialling, the user gets a 502 without the address, and
 * the connector's log says what it refused.
 */
describe('attack: a service that points apps at internal targets (connector allow-list)', function () {
  this.timeout(60_000);
  let stack: Stack;
  let dir: string;
  let stateDir: string;
  let allowed: string;
  let connector: RunningProcess | undefined;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-allow-list-'));
    stateDir = join(dir, 'state');
    stack = await startStack({
      connectors: true,
      configure: (config) => ({
        ...config,
        apps: [
          ...config.apps.map((app) => {
            if (app.id === 'slow') return { ...app, internalUrl: 'http://169.254.169.254' };
            return app;
          }),
          { id: 'ssh', externalUrl: unknownOrigin(config), internalUrl: 'http://10.0.0.1:22', preauth: 'passthrough' as const },
        ],
      }),
    });
    allowed = `127.0.0.1:${new URL(stack.backend.url).port}`;
    const token = await stack.adminToken('alice');
    const registered = await runConnectorCli(
      [
        'register',
        '--service',
        stack.connectorUrl,
        '--state-dir',
        stateDir,
        '--ca-file',
        stack.connectorCaFile,
        '--allow',
        allowed,
        '--allow',
        'Intranet.Corp:443',
      ],
      { GATEHOUSE_CONNECTOR_TOKEN: token },
    );
    assert.equal(registered.code, 0, registered.stderr);
    assert.match(registered.stdout, new RegExp(`allow-list:\\s+${allowed.replace(/\./g, '\\.')}, intranet\\.corp:443\\n`));
    // `run` without --allow enforces the list kept at registration.
    connector = startConnectorCli(['run', '--state-dir', stateDir, '--log-level', 'info']);
    await connector.waitFor(/tunnel-1 link connected/);
    await connector.waitFor(/tunnel-2 link connected/);
  });

  after(async function () {
    await connector?.stop('SIGKILL');
    await stack?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(function () {
    stack.audit.clear();
  });

  async function refused(url: string, target: string): Promise<void> {
    const before = logLines(connector!.stdout()).length;
    const response = await stack.browser().request(`${url}/latest/meta-data/`, { headers: { accept: 'application/json' } });
    const text = await response.text();
    assert.equal(response.status, 502, text);
    const body = JSON.parse(text) as ErrorPage;
    assert.equal(body.error.code, 'ERR_BACKEND_UNREACHABLE');
    assert.doesNotMatch(text, new RegExp(target.split(':')[0]!.replace(/\./g, '\\.')), 'the user never sees the internal address');
    const event = stack.audit.ofType('forward.failed').at(-1);
    assert.equal(event?.code, 'ERR_BACKEND_UNREACHABLE', 'audit event');
    assert.equal(event?.reason, 'target_refused', 'the audit event says the connector refused the target');
    const line = logLines(connector!.stdout())
      .slice(before)
      .find((entry) => entry['msg'] === "refused a target outside the connector's allow-list");
    assert.ok(line, `a connector log line:\n${connector!.stdout().slice(-2000)}`);
    assert.equal(line['target'], target);
    assert.equal(line['refusal'], 'target_refused');
    assert.equal(line['level'], 'warn');
  }

  it('reaches the app the allow-list names', async function () {
    const response = await stack.browser().request(`${stack.urls.open}/hello`, { headers: { accept: 'application/json' } });
    assert.equal(response.status, 200);
    assert.ok(stack.backend.requests.some((request) => request.path === '/hello'));
  });

  it('refuses the cloud metadata address the service configured', async function () {
    await refused(stack.urls.slow, '169.254.169.254:80');
  });

  it('refuses an SSH port on an internal address the service configured', async function () {
    await refused(stack.urls.unknown, '10.0.0.1:22');
  });

  it('refuses another port of an allowed address', async function () {
    await refused(stack.urls.dead, '127.0.0.1:1');
  });

  it('says at start which configured apps it will refuse', function () {
    const warned = logLines(connector!.stdout()).filter(
      (entry) => entry['msg'] === "the configuration names an app outside the connector's allow-list; its streams will be refused",
    );
    assert.deepEqual(warned.map((entry) => entry['app']).sort(), ['dead', 'slow', 'ssh']);
  });

  it('shows the list in status, and run --allow replaces it and keeps it; a bad entry is a usage error', async function () {
    const status = await runConnectorCli(['status', '--state-dir', stateDir]);
    assert.match(status.stdout, new RegExp(`allow-list:\\s+${allowed.replace(/\./g, '\\.')}, intranet\\.corp:443\\n`));
    const json = JSON.parse((await runConnectorCli(['status', '--state-dir', stateDir, '--json'])).stdout) as { allowList: string[] | null };
    assert.deepEqual(json.allowList, [allowed, 'intranet.corp:443']);

    const bad = await runConnectorCli(['run', '--state-dir', stateDir, '--allow', '10.0.0.0/33']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--allow "10\.0\.0\.0\/33": .*has a prefix length outside 0-32/);

    await connector!.stop('SIGTERM');
    connector = startConnectorCli(['run', '--state-dir', stateDir, '--log-level', 'info', '--allow', '127.0.0.0/8']);
    await connector.waitFor(/allow-list: 127\.0\.0\.0\/8\n/);
    await connector.waitFor(/tunnel-1 link connected/);
    assert.deepEqual(JSON.parse(readFileSync(join(stateDir, 'allow-list.json'), 'utf8')), { allow: ['127.0.0.0/8'] });
    const after = await runConnectorCli(['status', '--state-dir', stateDir]);
    assert.match(after.stdout, /allow-list:\s+127\.0\.0\.0\/8\n/);
  });
});

/** The stack publishes `unknown.gatehouse.test` without an app; this file gives it one. */
function unknownOrigin(config: { apps: ReadonlyArray<{ externalUrl: string }> }): string {
  const port = new URL(config.apps[0]!.externalUrl).port;
  return `https://unknown.gatehouse.test:${port}`;
}
