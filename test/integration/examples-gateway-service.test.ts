import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runNode } from '../../dev/lib/processes.ts';
import { directive, environmentOf, parseUnit } from '../support/systemd-unit.ts';

const EXAMPLE = fileURLToPath(new URL('../../examples/gateway-service/', import.meta.url));
const UNIT = join(EXAMPLE, 'gatehouse.service');
const CLI = fileURLToPath(new URL('../../src/cli/gatehouse.ts', import.meta.url));
const CONFIG = '/etc/gatehouse/gatehouse.yaml';

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

describe('examples/gateway-service: the systemd unit of gatehouse serve', function () {
  this.timeout(60_000);
  const unit = parseUnit(readFileSync(UNIT, 'utf8'));
  const one = (key: string): string | undefined => directive(unit, 'Service', key);
  const service = unit.get('Service') ?? new Map<string, string[]>();
  const execStart = (one('ExecStart') ?? '').split(/\s+/);

  it('has the sections, the reload, the stop and the sandbox the README promises', () => {
    assert.deepEqual([...unit.keys()], ['Unit', 'Service', 'Install']);
    assert.equal(directive(unit, 'Install', 'WantedBy'), 'multi-user.target');
    const expected: Record<string, string> = {
      Type: 'exec',
      User: 'gatehouse',
      Group: 'gatehouse',
      ExecReload: '/bin/kill -HUP $MAINPID',
      KillSignal: 'SIGTERM',
      StateDirectory: 'gatehouse',
      StateDirectoryMode: '0700',
      LogsDirectory: 'gatehouse',
      UMask: '0077',
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
      CapabilityBoundingSet: 'CAP_NET_BIND_SERVICE',
      AmbientCapabilities: 'CAP_NET_BIND_SERVICE',
      Restart: 'on-failure',
      RestartPreventExitStatus: '2',
      StandardOutput: 'journal',
      StandardError: 'journal',
      EnvironmentFile: '-/etc/gatehouse/gatehouse.env',
    };
    for (const [key, value] of Object.entries(expected)) assert.equal(one(key), value, key);
    assert.deepEqual(service.get('SystemCallFilter'), ['@system-service', '~@privileged']);
    assert.equal(service.has('MemoryDenyWriteExecute'), false, "Node's JIT needs writable executable memory");
    // systemd must wait past the 30 s shutdown deadline before it kills.
    const stop = /^(\d+)s$/.exec(one('TimeoutStopSec') ?? '');
    assert.ok(stop && Number(stop[1]) > 30, `TimeoutStopSec=${one('TimeoutStopSec')}`);
  });

  it('runs `gatehouse serve --config /etc/gatehouse/gatehouse.yaml`, every variable with a default, with arguments serve accepts', async () => {
    assert.match(execStart[0] ?? '', /^\/.*\/gatehouse$/);
    assert.deepEqual(execStart.slice(1, 4), ['serve', '--config', CONFIG]);
    const defaults = environmentOf(service.get('Environment') ?? []);
    const used = [...(one('ExecStart') ?? '').matchAll(/\$\{([A-Z_]+)\}/g)].map((match) => match[1] ?? '');
    for (const name of used) assert.ok(defaults.has(name), `${name} has a default in Environment=`);
    // The exact arguments, the configuration swapped for a file that is not there: a configuration error (1), not a usage error (2).
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-example-gateway-service-'));
    try {
      const missing = join(dir, 'gatehouse.yaml');
      const args = execStart
        .slice(1)
        .map((word) => word.replace(/^\$\{([A-Z_]+)\}$/, (_match, name: string) => defaults.get(name) ?? ''))
        .map((word) => (word === CONFIG ? missing : word));
      const result = await runNode(CLI, args);
      assert.equal(result.code, 1, result.stderr);
      assert.ok(result.stderr.includes(missing), result.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes `systemd-analyze verify` and rates OK in `systemd-analyze security` (where systemd-analyze exists)', function () {
    if (!has('systemd-analyze')) this.skip();
    const verify = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
    const complaints = `${verify.stdout}${verify.stderr}`
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.includes(`Command ${execStart[0]} is not executable`));
    assert.deepEqual(complaints, []);
    const security = spawnSync('systemd-analyze', ['security', '--offline=yes', UNIT], { encoding: 'utf8' });
    const level = /Overall exposure level for .*: (\d+\.\d+) (\w+)/.exec(security.stdout);
    assert.ok(level, security.stdout + security.stderr);
    assert.ok(Number(level[1]) <= 2.0, `exposure ${level[1]} ${level[2]}`);
  });
});
