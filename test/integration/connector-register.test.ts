import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitOf, runConnectorCli, startConnectorCli, type CliResult } from '../../dev/lib/connector-process.ts';
import { BrowserClient } from '../../dev/lib/browser-client.ts';
import { startConnectorService, type ConnectorServiceHarness } from '../support/connector-service.ts';
import { freePort } from '../support/free-port.ts';

const NO_STACK = /\bat .*\.ts:\d+/;

function assertFailed(result: CliResult, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, `exit code\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  assert.match(result.stderr, pattern);
  assert.doesNotMatch(result.stderr, NO_STACK, 'no stack trace');
}

describe('gatehouse-connector register (real service, real identity provider)', function () {
  this.timeout(60_000);
  let harness: ConnectorServiceHarness;
  let root: string;
  let adminToken: string;
  let dirCount = 0;

  before(async function () {
    harness = await startConnectorService();
    root = mkdtempSync(join(tmpdir(), 'gatehouse-connector-e2e-'));
    adminToken = await harness.adminToken('alice');
  });

  after(async function () {
    await harness?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  function stateDir(): string {
    dirCount += 1;
    return join(root, `state-${dirCount}`);
  }

  function register(dir: string, extra: string[] = [], token: string | undefined = adminToken): Promise<CliResult> {
    return runConnectorCli([
      'register',
      '--service',
      harness.serviceUrl,
      '--state-dir',
      dir,
      '--ca-file',
      harness.caFile,
      ...(token === undefined ? [] : ['--token', token]),
      ...extra,
    ]);
  }

  it('registers with --token, keeps key and certificate 0600 in a 0700 directory, and never prints the token', async function () {
    const dir = stateDir();
    const result = await register(dir, ['--name', 'host01.corp.example']);
    assert.equal(result.code, 0, result.stderr);
    const [, connectorId] = /^Registered connector (\S+) in group default with https:\/\/127\.0\.0\.1:\d+$/m.exec(result.stdout) ?? [];
    assert.ok(connectorId, result.stdout);
    assert.match(result.stdout, /Start it with: gatehouse-connector run --state-dir /);
    assert.ok(!result.stdout.includes(adminToken) && !result.stderr.includes(adminToken), 'the token is never printed');
    assert.doesNotMatch(result.stdout + result.stderr, /BEGIN (?:RSA )?PRIVATE KEY/);

    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(dir).sort(), ['ca.crt', 'connector.crt', 'connector.json', 'connector.key', 'service-ca.crt']);
    for (const file of readdirSync(dir)) assert.equal(statSync(join(dir, file)).mode & 0o777, 0o600, file);

    const audit = harness.audit.ofType('connector.registered').find((event) => event.details?.['connectorId'] === connectorId);
    assert.ok(audit, 'the service audited the registration');
    assert.equal(audit.details?.['name'], 'host01.corp.example');
  });

  it('registers through the device flow: prints the URL and code, waits, and completes when an admin signs in', async function () {
    const dir = stateDir();
    const cli = startConnectorCli([
      'register',
      '--service',
      harness.serviceUrl,
      '--state-dir',
      dir,
      '--ca-file',
      harness.caFile,
      '--idp-ca-file',
      harness.idpCaFile,
      '--group',
      'hr',
    ]);
    try {
      const [, uri, code] = await cli.waitFor(/To register this connector, open (\S+) and enter code (\S+)/);
      assert.ok(uri?.startsWith(harness.idp.issuer), uri);
      // Not a terminal: one plain line now, then one a minute, not a line every few seconds.
      await cli.waitFor(/Waiting for an administrator to sign in; the code expires in \d+ min\./);
      await harness.approveDevice(uri ?? '', code ?? '', 'alice');
      assert.equal(await exitOf(cli), 0, cli.stderr());
      assert.match(cli.stdout(), /Registered connector \S+ in group hr/);
      assert.match(cli.stderr(), /Signed in\./);
      assert.doesNotMatch(cli.stderr(), /still waiting/i, 'no waiting lines within the first minute');
      assert.ok(!cli.stderr().includes('\r') && !cli.stderr().includes('\u001b['), 'no terminal codes in a pipe');
    } finally {
      await cli.stop('SIGKILL');
    }
  });

  it('refuses to overwrite a registration without --force, and replaces it with --force', async function () {
    const dir = stateDir();
    const first = await register(dir);
    assert.equal(first.code, 0, first.stderr);
    const again = await register(dir);
    assertFailed(again, 1, /ERR_ALREADY_REGISTERED: .* already holds a registration\. To replace it .*add --force/);
    // The token can also come from the environment, out of the process list.
    const forced = await runConnectorCli(['register', '--service', harness.serviceUrl, '--state-dir', dir, '--ca-file', harness.caFile, '--force'], {
      GATEHOUSE_CONNECTOR_TOKEN: adminToken,
    });
    assert.equal(forced.code, 0, forced.stderr);
    const firstId = /Registered connector (\S+)/.exec(first.stdout)?.[1];
    const secondId = /Registered connector (\S+)/.exec(forced.stdout)?.[1];
    assert.ok(firstId && secondId && firstId !== secondId);
  });

  it("refuses a non-admin's token, a malformed token and an unknown group, relaying the service's reason", async function () {
    const bobToken = await harness.adminToken('bob');
    const notAdmin = await register(stateDir(), [], bobToken);
    assertFailed(notAdmin, 1, /ERR_TOKEN_REFUSED: The service refused the admin token: .*\(ERR_ADMIN_TOKEN_INVALID, reason not_admin, request [\w-]+\)/);
    assert.ok(!notAdmin.stderr.includes(bobToken));

    const garbage = await register(stateDir(), [], 'not-a-jwt');
    assertFailed(garbage, 1, /ERR_TOKEN_REFUSED: .*\(ERR_ADMIN_TOKEN_INVALID, reason malformed/);

    const group = await register(stateDir(), ['--group', 'nonexistent']);
    assertFailed(group, 1, /ERR_UNKNOWN_GROUP: The service refused the connector group: /);

    const refusals = harness.audit.ofType('connector.refused').map((event) => event.reason);
    assert.ok(refusals.includes('not_admin') && refusals.includes('malformed'), refusals.join(', '));
  });

  it('says so when the administrator declines the device login (no token at all)', async function () {
    const cli = startConnectorCli([
      'register',
      '--service',
      harness.serviceUrl,
      '--state-dir',
      stateDir(),
      '--ca-file',
      harness.caFile,
      '--idp-ca-file',
      harness.idpCaFile,
    ]);
    try {
      await cli.waitFor(/open (\S+) and enter code (\S+)/);
      const uri = /open (\S+) and enter code (\S+)/.exec(cli.stderr());
      // Declining: open the page, enter the code, press Abort.
      const person = new BrowserClient({ ca: harness.idp.caPem });
      try {
        const input = await person.navigate(uri?.[1] ?? '');
        const confirm = await person.submitForm(input.response, input.response.url, { user_code: uri?.[2] ?? '' });
        await person.submitForm(confirm.response, confirm.response.url, { abort: 'yes' });
      } finally {
        await person.close();
      }
      assert.equal(await exitOf(cli), 1);
      assert.match(cli.stderr(), /ERR_DEVICE_LOGIN_DENIED: The sign-in was declined/);
    } finally {
      await cli.stop('SIGKILL');
    }
  });

  it('says the service is unreachable, or its certificate untrusted (naming interception and --ca-file)', async function () {
    const port = await freePort();
    const unreachable = await runConnectorCli(['register', '--service', `https://127.0.0.1:${port}`, '--token', adminToken, '--state-dir', stateDir()]);
    assertFailed(unreachable, 1, /ERR_SERVICE_UNREACHABLE: The service at https:\/\/127\.0\.0\.1:\d+ is unreachable: the connection failed \(ECONNREFUSED\)/);

    const untrusted = await runConnectorCli(['register', '--service', harness.serviceUrl, '--token', adminToken, '--state-dir', stateDir()]);
    assertFailed(
      untrusted,
      1,
      /ERR_SERVICE_UNTRUSTED: The TLS certificate presented for https:\/\/127\.0\.0\.1:\d+ is not trusted .*--ca-file FILE.*TLS-intercepting proxy/s,
    );
    assert.ok(!untrusted.stderr.includes(adminToken));
  });

  it('answers usage mistakes with exit code 2', async function () {
    assertFailed(await runConnectorCli(['register']), 2, /register: --service URL is required/);
    assertFailed(
      await runConnectorCli(['register', '--service', 'http://127.0.0.1:1', '--token', 'x', '--state-dir', stateDir()]),
      2,
      /--service must be an https URL/,
    );
    assertFailed(await runConnectorCli(['frobnicate']), 2, /unknown command "frobnicate"/);
    assertFailed(await runConnectorCli(['run', '--json']), 2, /--json does not apply to run/);
    assertFailed(await runConnectorCli(['status', '--bogus']), 2, /unknown option --bogus\n/);
    const help = await runConnectorCli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /gatehouse-connector register --service URL/);
    assertFailed(
      await runConnectorCli([
        'register',
        '--service',
        harness.serviceUrl,
        '--token',
        adminToken,
        '--state-dir',
        stateDir(),
        '--ca-file',
        join(root, 'absent.pem'),
      ]),
      1,
      /ERR_FILE_INVALID: --ca-file .*absent\.pem: cannot read it \(ENOENT\)/,
    );
  });
});
