import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDevCa } from '../../dev/lib/dev-ca.ts';
import { exitOf, logLines, runConnectorCli, startConnectorCli } from '../../dev/lib/connector-process.ts';
import { startConnectorService, type ConnectorServiceHarness } from '../support/connector-service.ts';
import { callService } from '../support/mtls-client.ts';
import type { RunningProcess } from '../../dev/lib/processes.ts';
import { CONFIG_PATH } from '../../src/protocol/connector-api.ts';

const DAY_MS = 86_400_000;

interface Registered {
  readonly dir: string;
  readonly connectorId: string;
}

describe('gatehouse-connector run and status (real service, real processes)', function () {
  this.timeout(60_000);
  let harness: ConnectorServiceHarness;
  let root: string;
  let adminToken: string;
  let count = 0;
  const running: RunningProcess[] = [];

  before(async function () {
    harness = await startConnectorService();
    root = mkdtempSync(join(tmpdir(), 'gatehouse-connector-run-'));
    adminToken = await harness.adminToken('alice');
  });

  afterEach(async function () {
    await Promise.all(running.splice(0).map((process) => process.stop('SIGKILL')));
  });

  after(async function () {
    await harness?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  async function register(group?: string): Promise<Registered> {
    count += 1;
    const dir = join(root, `state-${count}`);
    const result = await runConnectorCli([
      'register',
      '--service',
      harness.serviceUrl,
      '--token',
      adminToken,
      '--state-dir',
      dir,
      '--ca-file',
      harness.caFile,
      ...(group ? ['--group', group] : []),
    ]);
    assert.equal(result.code, 0, result.stderr);
    const connectorId = /Registered connector (\S+)/.exec(result.stdout)?.[1];
    assert.ok(connectorId);
    return { dir, connectorId };
  }

  function run(dir: string): RunningProcess {
    const process = startConnectorCli(['run', '--state-dir', dir]);
    running.push(process);
    return process;
  }

  function readIdentity(dir: string): { cert: string; key: string } {
    return { cert: readFileSync(join(dir, 'connector.crt'), 'utf8'), key: readFileSync(join(dir, 'connector.key'), 'utf8') };
  }

  it('pulls its configuration, follows changes promptly, and reports status', async function () {
    const { dir, connectorId } = await register();
    const connector = run(dir);
    const [, version] = await connector.waitFor(/configuration version (\d+) applied: 1 app \(wiki\) for group default/);
    await connector.waitFor(/control link connected/);
    const applied = logLines(connector.stdout()).find((line) => line['msg'] === 'configuration applied');
    assert.deepEqual(applied?.['apps'], ['wiki']);
    assert.equal(applied?.['component'], 'connector');

    const next = await harness.bumpConfig();
    assert.ok(next > Number(version));
    await connector.waitFor(new RegExp(`configuration version ${next} applied`));

    await harness.moveGroup(connectorId, 'hr');
    await connector.waitFor(/configuration version \d+ applied: 1 app \(hr\) for group hr/);
    const record = JSON.parse(readFileSync(join(dir, 'connector.json'), 'utf8')) as { group: string };
    assert.equal(record.group, 'hr', 'connector.json follows the move');

    const status = await runConnectorCli(['status', '--state-dir', dir]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`connector:\\s+${connectorId}`));
    assert.match(status.stdout, /group:\s+hr/);
    assert.match(status.stdout, /expires:\s+\d{4}-\d\d-\d\dT.* \(in \d+ days\)/);
    assert.match(status.stdout, /renewal:\s+not due/);
    assert.match(status.stdout, /reachable:\s+reachable, certificate accepted/);
    const json = await runConnectorCli(['status', '--state-dir', dir, '--json']);
    assert.equal(json.code, 0);
    const parsed = JSON.parse(json.stdout) as {
      connectorId: string;
      renewal: { due: boolean };
      service: { accepted: boolean; apps: string[]; configVersion: number | null };
      certificate: { ageSeconds: number };
    };
    assert.equal(parsed.connectorId, connectorId);
    assert.equal(parsed.renewal.due, false);
    assert.deepEqual(parsed.service, { reachable: true, accepted: true, configVersion: parsed.service.configVersion, apps: ['hr'], error: null });
    assert.equal(typeof parsed.service.configVersion, 'number');
    assert.ok(parsed.certificate.ageSeconds >= 0);

    assert.equal(await connector.stop('SIGTERM'), 0);
    assert.match(connector.stderr(), /SIGTERM, stopping\n.*stopped/s);
    assert.ok(logLines(connector.stdout()).some((line) => line['msg'] === 'connector stopped'));
  });

  it('renews its certificate when due, uses the new one without a restart, and the old one stops working after the grace period', async function () {
    const { dir } = await register();
    const previous = readIdentity(dir);
    const connector = run(dir);
    await connector.waitFor(/events stream open/);

    harness.clock.advance(31 * DAY_MS);
    try {
      await connector.waitFor(/certificate renewed; valid until \S+/);
      const renewed = readIdentity(dir);
      assert.notEqual(renewed.cert, previous.cert);
      assert.notEqual(renewed.key, previous.key);

      // The running connector goes on with the new certificate: a change still reaches it.
      const renewedAt = connector.stderr().length;
      const next = await harness.bumpConfig();
      await connector.waitFor(new RegExp(`configuration version ${next} applied`));
      assert.doesNotMatch(connector.stderr().slice(renewedAt), /link down/);

      const caPem = readFileSync(harness.caFile, 'utf8');
      const withNew = await callService(harness.serviceUrl, caPem, { path: CONFIG_PATH, cert: renewed.cert, key: renewed.key });
      assert.equal(withNew.status, 200);
      const withOldInGrace = await callService(harness.serviceUrl, caPem, { path: CONFIG_PATH, cert: previous.cert, key: previous.key });
      assert.equal(withOldInGrace.status, 200, 'the previous certificate works during the grace period');
      harness.clock.advance(11 * 60 * 1000);
      const withOldAfterGrace = await callService(harness.serviceUrl, caPem, { path: CONFIG_PATH, cert: previous.cert, key: previous.key });
      assert.equal(withOldAfterGrace.status, 401);

      const status = await runConnectorCli(['status', '--state-dir', dir]);
      assert.equal(status.code, 0, status.stdout);
      assert.match(status.stdout, /renewal:\s+not due/);
      assert.equal(await connector.stop('SIGTERM'), 0);
    } finally {
      // Admin tokens from the real-time identity provider would look expired to a service 31 days ahead.
      harness.clock.reset();
    }
  });

  it('stops with a non-zero exit and the next step when revoked', async function () {
    const { dir, connectorId } = await register();
    const connector = run(dir);
    await connector.waitFor(/events stream open/);
    await harness.revoke(connectorId);
    assert.equal(await exitOf(connector), 1);
    assert.match(
      connector.stderr(),
      /\ngatehouse-connector: ERR_CONNECTOR_REVOKED: An administrator revoked this connector; the service refuses it from now on\. To bring it back, register it again: gatehouse-connector register --service https:\/\/127\.0\.0\.1:\d+ --force\n$/,
    );
    assert.ok(logLines(connector.stdout()).some((line) => line['level'] === 'error' && line['code'] === 'ERR_CONNECTOR_REVOKED'));

    const status = await runConnectorCli(['status', '--state-dir', dir]);
    assert.equal(status.code, 1);
    assert.match(status.stdout, /reachable:\s+reachable, but: An administrator revoked this connector/);

    const again = run(dir);
    assert.equal(await exitOf(again), 1, 'a revoked connector is refused from its first call');
    assert.match(again.stderr(), /ERR_CONNECTOR_REVOKED/);
  });

  it('stops with a clear error when the service refuses its certificate', async function () {
    const { dir } = await register();
    const stranger = createDevCa({ commonName: 'not the connector CA' }).issueServerCertificate(['connector']);
    writeFileSync(join(dir, 'connector.key'), stranger.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'connector.crt'), stranger.certPem, { mode: 0o600 });
    const connector = run(dir);
    assert.equal(await exitOf(connector), 1);
    // Whichever link hears the refusal first (a 401 on /config, a tunnel's GOAWAY), the text is this one.
    assert.match(
      connector.stderr(),
      /\ngatehouse-connector: ERR_CERT_REFUSED: The service refused this connector's certificate: it was not issued by this service's connector CA \(other_ca\)\. Register the connector again: gatehouse-connector register --service https:\/\/127\.0\.0\.1:\d+ --force\n$/,
    );
  });

  it('refuses to run without a registration', async function () {
    const result = await runConnectorCli(['run', '--state-dir', join(root, 'never-registered')]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /ERR_NOT_REGISTERED: .* holds no registration\. Register this connector first/);
  });
});

describe('gatehouse-connector run when the service goes away', function () {
  this.timeout(60_000);
  let harness: ConnectorServiceHarness | undefined;
  let root: string;
  let connector: RunningProcess | undefined;

  before(async function () {
    harness = await startConnectorService();
    root = mkdtempSync(join(tmpdir(), 'gatehouse-connector-down-'));
  });

  after(async function () {
    await connector?.stop('SIGKILL');
    await harness?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('reconnects with backoff, reports the service unreachable, and still stops cleanly', async function () {
    const service = harness!;
    const dir = join(root, 'state');
    const token = await service.adminToken();
    const registered = await runConnectorCli(['register', '--service', service.serviceUrl, '--token', token, '--state-dir', dir, '--ca-file', service.caFile]);
    assert.equal(registered.code, 0, registered.stderr);
    connector = startConnectorCli(['run', '--state-dir', dir]);
    await connector.waitFor(/events stream open/);

    harness = undefined;
    await service.close();
    await connector.waitFor(/control link down \(.+\); reconnecting in \d+\.\d s/);
    await connector.waitFor(
      /control link down \(The service at https:\/\/127\.0\.0\.1:\d+ is unreachable: the connection failed \(ECONNREFUSED\).*\); reconnecting in/,
    );
    // The log line goes to stdout, the progress line above to stderr: two pipes, read as they arrive.
    await connector.waitFor(/"msg":"link down[^\n]*\n/);
    const warnings = logLines(connector.stdout()).filter((line) => typeof line['msg'] === 'string' && line['msg'].startsWith('link down'));
    assert.ok(warnings.length >= 1);
    for (const warning of warnings) {
      const delay = Number(warning['delayMs']);
      const attempt = Number(warning['attempt']);
      assert.ok(delay >= 0 && delay <= Math.min(30_000, 500 * 2 ** (attempt - 1)), `delay ${delay} at attempt ${attempt}`);
    }

    const status = await runConnectorCli(['status', '--state-dir', dir]);
    assert.equal(status.code, 1);
    assert.match(status.stdout, /reachable:\s+NOT reachable: The service at .* is unreachable/);

    assert.equal(await connector.stop('SIGTERM'), 0);
  });
});
