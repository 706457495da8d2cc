import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONNECTOR_CLI, runConnectorCli, type CliResult } from '../../dev/lib/connector-process.ts';
import { renderConnectorUnit } from '../../src/connector/service-install/unit.ts';
import { startConnectProxy } from '../support/connect-proxy.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { directive, parseUnit } from '../support/systemd-unit.ts';

const BIN = '/usr/bin/gatehouse-connector';
const UNIT = 'etc/systemd/system/gatehouse-connector.service';
const STATE = 'var/lib/gatehouse-connector';
const NO_STACK = /\bat .*\.ts:\d+/;

/** Every file under `dir`, relative, with its mode: what a run left behind. */
function tree(dir: string): Map<string, string> {
  const entries = readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
  return new Map(entries.map((name) => [name, (statSync(join(dir, name)).mode & 0o7777).toString(8)]));
}

/** `gatehouse-connector ARGS` as a user who is not root (this user, or nobody when the tests run as root). */
async function runAsNonRoot(args: string[]): Promise<CliResult> {
  const nobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const child = spawn(process.execPath, [CONNECTOR_CLI, ...args], {
    ...nobody,
    cwd: tmpdir(),
    env: { PATH: process.env['PATH'] ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

describe('gatehouse-connector service install (real gateway, real identity provider)', function () {
  this.timeout(60_000);
  let stack: Stack;
  let work: string;
  let token: string;

  before(async () => {
    stack = await startStack({ connectors: true });
    work = mkdtempSync(join(tmpdir(), 'gatehouse-service-install-'));
    token = await stack.adminToken('alice');
  });
  after(async () => {
    await stack?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const installArgs = (root: string, extra: string[] = []): string[] => [
    'service',
    'install',
    '--root',
    root,
    '--service',
    stack.connectorUrl,
    '--ca-file',
    stack.connectorCaFile,
    '--group',
    'default',
    '--name',
    'host01.corp.example',
    '--bin',
    BIN,
    ...extra,
  ];

  it('--dry-run prints every step, the files in full, and writes nothing', async () => {
    const root = join(work, 'dry');
    const result = await runConnectorCli(installArgs(root, ['--dry-run']), { GATEHOUSE_CONNECTOR_TOKEN: token });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Dry run: nothing is changed/);
    assert.match(result.stdout, /system user gatehouse-connector: skipped under --root/);
    assert.match(result.stdout, new RegExp(`register with ${stack.connectorUrl} in group default, with the administrator's token`));
    // The unit, every line of it.
    const shown = result.stdout
      .split('\n')
      .filter((line) => line.startsWith('    | '))
      .map((line) => line.slice(6))
      .join('\n');
    assert.ok(shown.includes(renderConnectorUnit({ execPath: BIN }).trimEnd()), 'the whole unit is printed');
    assert.match(result.stdout, /GATEHOUSE_CONNECTOR_TUNNELS=2/, 'the settings file is printed');
    assert.doesNotMatch(result.stdout + result.stderr, new RegExp(token.slice(0, 20)), 'never the token');
    assert.throws(() => statSync(root), /ENOENT/, 'nothing written, not even the root folder');
  });

  it('installs in one step: the unit, a registration the connector owns (0700 / 0600), and the settings; a second run keeps all of it', async () => {
    const root = join(work, 'root');
    const first = await runConnectorCli(installArgs(root), { GATEHOUSE_CONNECTOR_TOKEN: token });
    assert.equal(first.code, 0, first.stderr);
    const progress = first.stderr.split('\n').filter((line) => /^gatehouse-connector: \[\d\/\d\] /.test(line));
    assert.equal(progress.length, 7, first.stderr);
    assert.match(first.stderr, /registered connector (c-[0-9a-f]+) in group default, certificate valid until /);
    const id = /registered connector (c-[0-9a-f]+)/.exec(first.stderr)?.[1];

    const unitText = readFileSync(join(root, UNIT), 'utf8');
    assert.equal(unitText, renderConnectorUnit({ execPath: BIN }));
    const unit = parseUnit(unitText);
    assert.equal(directive(unit, 'Service', 'ExecStart')?.split(' ').slice(0, 4).join(' '), `${BIN} run --state-dir /var/lib/gatehouse-connector`);
    assert.equal(directive(unit, 'Service', 'User'), 'gatehouse-connector');

    const state = join(root, STATE);
    const files = tree(state);
    assert.deepEqual([...files.keys()], ['ca.crt', 'connector.crt', 'connector.json', 'connector.key', 'service-ca.crt']);
    for (const [name, mode] of files) assert.equal(mode, '600', name);
    assert.equal((statSync(state).mode & 0o777).toString(8), '700');
    assert.match(readFileSync(join(state, 'connector.crt'), 'utf8'), /BEGIN CERTIFICATE/);
    assert.equal((JSON.parse(readFileSync(join(state, 'connector.json'), 'utf8')) as { connectorId: string }).connectorId, id);
    assert.equal((statSync(join(root, 'etc/gatehouse-connector/connector.env')).mode & 0o777).toString(8), '640');

    // The connector reads what the installer wrote.
    const status = await runConnectorCli(['status', '--state-dir', state, '--json']);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { connectorId: string }).connectorId, id);

    const before = new Map([...tree(root)].map(([name]) => [name, statSync(join(root, name)).mtimeMs]));
    const second = await runConnectorCli(installArgs(root), {});
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, new RegExp(`registration: connector ${id} in group default .*kept`));
    assert.match(second.stderr, /unit \/etc\/systemd\/system\/gatehouse-connector\.service: unchanged/);
    assert.doesNotMatch(second.stderr, /registered connector/);
    for (const name of ['connector.key', 'connector.crt', 'connector.json']) {
      assert.equal(statSync(join(state, name)).mtimeMs, before.get(join(STATE, name)), `${name} untouched`);
    }
    assert.equal(statSync(join(root, UNIT)).mtimeMs, before.get(UNIT), 'unit untouched');

    const serviceStatus = await runConnectorCli(['service', 'status', '--root', root]);
    assert.equal(serviceStatus.code, 0, serviceStatus.stderr);
    assert.match(serviceStatus.stdout, new RegExp(`registration:  connector ${id} in group default`));
  });

  it('registers through the proxy --proxy names (or HTTPS_PROXY), as register does', async () => {
    const proxy = await startConnectProxy({ credentials: { user: 'ops', password: 'proxy-secret-for-install' } });
    try {
      const root = join(work, 'root-proxied');
      const proxied = `http://ops:proxy-secret-for-install@127.0.0.1:${proxy.port}`;
      const result = await runConnectorCli(installArgs(root, ['--proxy', proxied]), { GATEHOUSE_CONNECTOR_TOKEN: token });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /registered connector c-[0-9a-f]+ in group default/);
      assert.ok(proxy.tunnels > 0, 'the registration went through the proxy');
      assert.ok(proxy.targets.includes(`127.0.0.1:${new URL(stack.connectorUrl).port}`), proxy.targets.join(', '));
      assert.doesNotMatch(result.stderr + result.stdout, /proxy-secret-for-install/, 'the proxy password is never printed');
    } finally {
      await proxy.close();
    }
  });

  it('refuses without root (and without --root or --dry-run): one line, exit 1, nothing done', async () => {
    const result = await runAsNonRoot(['service', 'install', '--service', stack.connectorUrl]);
    assert.equal(result.code, 1, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0] ?? '', /^gatehouse-connector: ERR_INSTALL_NOT_ROOT: .*must run as root: sudo gatehouse-connector service install/);
    assert.doesNotMatch(result.stderr, NO_STACK);
    assert.equal(result.stdout, '');
  });
});
