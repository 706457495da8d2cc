import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONNECTOR_CLI, runConnectorCli, startConnectorCli } from '../../dev/lib/connector-process.ts';
import type { RunningProcess } from '../../dev/lib/processes.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { parseUnit } from '../support/systemd-unit.ts';

const EXAMPLE = fileURLToPath(new URL('../../examples/connector-service/', import.meta.url));
const UNIT = join(EXAMPLE, 'gatehouse-connector.service');
const ENV_EXAMPLE = join(EXAMPLE, 'connector.env.example');
const STATE_DIR = '/var/lib/gatehouse-connector';

/** systemd's Environment= syntax: space-separated KEY=VALUE words. */
function environmentOf(values: readonly string[]): Map<string, string> {
  return new Map(
    values
      .flatMap((value) => value.split(/\s+/))
      .filter(Boolean)
      .map((word) => [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)]),
  );
}

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

describe('examples/connector-service: the systemd unit', function () {
  this.timeout(60_000);
  const unit = parseUnit(readFileSync(UNIT, 'utf8'));
  const service = unit.get('Service') ?? new Map<string, string[]>();
  const one = (key: string): string | undefined => service.get(key)?.at(-1);
  const execStart = (one('ExecStart') ?? '').split(/\s+/);
  const defaults = environmentOf(service.get('Environment') ?? []);

  it('has the sections and the sandbox the README promises', () => {
    assert.deepEqual([...unit.keys()], ['Unit', 'Service', 'Install']);
    assert.equal(unit.get('Install')?.get('WantedBy')?.[0], 'multi-user.target');
    assert.ok(unit.get('Unit')?.get('After')?.includes('network-online.target'));
    const expected: Record<string, string> = {
      User: 'gatehouse-connector',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      StateDirectory: 'gatehouse-connector',
      StateDirectoryMode: '0700',
      NoNewPrivileges: 'yes',
      PrivateTmp: 'yes',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
      CapabilityBoundingSet: '',
      Restart: 'on-failure',
      KillSignal: 'SIGTERM',
      StandardOutput: 'journal',
      StandardError: 'journal',
    };
    for (const [key, value] of Object.entries(expected)) assert.equal(one(key), value, key);
    assert.deepEqual(service.get('SystemCallFilter'), ['@system-service', '~@privileged']);
    assert.equal(service.has('MemoryDenyWriteExecute'), false, "Node's JIT needs writable executable memory");
  });

  it('runs `gatehouse-connector run --state-dir /var/lib/gatehouse-connector`, every variable with a default', () => {
    assert.match(execStart[0] ?? '', /^\/.*\/gatehouse-connector$/, 'an absolute path to the gatehouse-connector binary');
    assert.deepEqual(execStart.slice(1, 4), ['run', '--state-dir', STATE_DIR]);
    const used = [...(one('ExecStart') ?? '').matchAll(/\$\{([A-Z_]+)\}/g)].map((match) => match[1] ?? '');
    assert.ok(used.length > 0);
    for (const name of used) assert.ok(defaults.has(name), `${name} has a default in Environment=`);
    // The example environment file sets only variables the unit uses.
    const settings = readFileSync(ENV_EXAMPLE, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.trim().startsWith('#'));
    assert.ok(settings.length > 0);
    for (const line of settings) {
      const match = /^([A-Z_]+)=(\S+)$/.exec(line);
      assert.ok(match, `KEY=VALUE: ${line}`);
      assert.ok(used.includes(match[1] ?? ''), `${match[1]} is used by ExecStart`);
    }
    assert.doesNotMatch(readFileSync(ENV_EXAMPLE, 'utf8'), /^GATEHOUSE_CONNECTOR_TOKEN=/m, 'no admin token in the environment file');
  });

  it('passes `systemd-analyze verify` and rates OK in `systemd-analyze security` (where systemd-analyze exists)', function () {
    if (!has('systemd-analyze')) this.skip();
    const verify = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
    // The binary is not installed on a test machine; anything else is a real complaint.
    const complaints = `${verify.stdout}${verify.stderr}`
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.includes(`Command ${execStart[0]} is not executable`));
    assert.deepEqual(complaints, []);
    const security = spawnSync('systemd-analyze', ['security', '--offline=yes', UNIT], { encoding: 'utf8' });
    const level = /Overall exposure level for .*: (\d+\.\d+) (\w+)/.exec(security.stdout);
    assert.ok(level, security.stdout + security.stderr);
    assert.ok(Number(level[1]) <= 2.0, `exposure ${level[1]} ${level[2]}`);
  });

  describe("the unit's command line against a real gateway", () => {
    let stack: Stack;
    let dir: string;
    let running: RunningProcess | undefined;

    before(async () => {
      stack = await startStack({ connectors: true });
      dir = mkdtempSync(join(tmpdir(), 'gatehouse-example-connector-service-'));
    });
    after(async () => {
      await running?.stop('SIGKILL');
      await stack.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('registers as the README says, runs with the exact ExecStart arguments, and drains on the KillSignal', async () => {
      assert.equal(basename(execStart[0] ?? ''), basename(CONNECTOR_CLI, '.ts'));
      const stateDir = join(dir, 'state');
      const registered = await runConnectorCli(['register', '--service', stack.connectorUrl, '--state-dir', stateDir, '--ca-file', stack.connectorCaFile], {
        GATEHOUSE_CONNECTOR_TOKEN: await stack.adminToken('alice'),
      });
      assert.equal(registered.code, 0, registered.stderr);
      // systemd expands ${VAR} from Environment= (the env file only overrides).
      const args = execStart
        .slice(1)
        .map((word) => word.replace(/^\$\{([A-Z_]+)\}$/, (_match, name: string) => defaults.get(name) ?? ''))
        .map((word) => (word === STATE_DIR ? stateDir : word));
      running = startConnectorCli(args);
      await running.waitFor(/tunnel-1 link connected/);
      await running.waitFor(/tunnel-2 link connected/);
      assert.equal(await running.stop((one('KillSignal') ?? 'SIGTERM') as NodeJS.Signals), 0);
    });
  });
});
