import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyPlan, describePlan } from '../../../src/connector/service-install/apply.ts';
import { ServiceInstallError } from '../../../src/connector/service-install/errors.ts';
import { planInstall, planUninstall, type Step } from '../../../src/connector/service-install/plan.ts';
import { prefixSystem, type CommandResult, type InstallSystem, type Owner } from '../../../src/connector/service-install/system.ts';
import { CONNECTOR_SERVICE, renderConnectorUnit } from '../../../src/connector/service-install/unit.ts';

const SERVICE = 'https://connect.example.com:8444';

/** The host as root would see it, with the files under a temporary folder and the commands answered and recorded. */
function fakeHost(dir: string, options: { userExists?: boolean; fail?: string } = {}) {
  const files = prefixSystem(dir);
  const ran: string[] = [];
  const owners = new Map<string, Owner>();
  let userExists = options.userExists ?? false;
  const system: InstallSystem = {
    ...files,
    managesHost: true,
    async writeFile(path, content, mode, owner) {
      owners.set(path, owner);
      await files.writeFile(path, content, mode, owner);
    },
    async makeDirectory(path, mode, owner) {
      owners.set(path, owner);
      await files.makeDirectory(path, mode, owner);
    },
    run(argv): Promise<CommandResult> {
      const line = argv.join(' ');
      if (argv[0] === 'id') return Promise.resolve({ code: userExists ? 0 : 1, stdout: '', stderr: '' });
      ran.push(line);
      if (argv[0] === 'useradd') userExists = true;
      if (options.fail !== undefined && line.startsWith(options.fail))
        return Promise.resolve({ code: 1, stdout: '', stderr: 'first line\nFailed to connect to bus' });
      return Promise.resolve({ code: 0, stdout: '', stderr: '' });
    },
  };
  return { system, ran, owners };
}

/** A registration as `register` leaves it, so that install keeps it and asks no service. */
function writeRegistration(dir: string, serviceUrl = SERVICE): void {
  const state = join(dir, CONNECTOR_SERVICE.stateDir);
  mkdirSync(state, { recursive: true, mode: 0o700 });
  const record = { connectorId: 'c-0123456789abcdef0123', group: 'default', serviceUrl, registeredAt: new Date().toISOString() };
  writeFileSync(join(state, 'connector.json'), JSON.stringify(record), { mode: 0o600 });
}

const titles = (steps: readonly Step[]): string[] => steps.map((step) => `${step.kind}: ${step.title}`);
const install = { registration: { serviceUrl: SERVICE }, execPath: '/usr/bin/gatehouse-connector' };

describe('service install and uninstall: the steps on a host', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-service-plan-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the user, the folders with their owners, the unit, then daemon-reload and enable --now; a second run changes nothing', async () => {
    writeRegistration(dir);
    const host = fakeHost(dir);
    const steps = await planInstall(host.system, install);
    const lines: string[] = [];
    await applyPlan(steps, host.system, { progress: (line) => lines.push(line) });
    assert.deepEqual(host.ran, [
      'useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin gatehouse-connector',
      'systemctl daemon-reload',
      'systemctl enable --now gatehouse-connector',
    ]);
    assert.deepEqual(host.owners.get(CONNECTOR_SERVICE.stateDir), { user: 'gatehouse-connector', group: 'gatehouse-connector' });
    assert.deepEqual(host.owners.get(CONNECTOR_SERVICE.envFile), { user: 'root', group: 'gatehouse-connector' });
    assert.deepEqual(host.owners.get(CONNECTOR_SERVICE.unitPath), { user: 'root', group: 'root' });
    assert.equal(await host.system.readFile(CONNECTOR_SERVICE.unitPath), renderConnectorUnit({ execPath: install.execPath }));
    assert.equal(lines.length, steps.length, 'one progress line per step');
    assert.match(lines.join('\n'), /registration: connector c-0123456789abcdef0123 in group default .*kept/);

    const again = fakeHost(dir, { userExists: true });
    const second = await planInstall(again.system, install);
    assert.deepEqual(
      titles(second).filter((title) => title.startsWith('keep')),
      [
        'keep: system user gatehouse-connector: exists, kept',
        `keep: settings ${CONNECTOR_SERVICE.envFile}: exists, kept as the operator left it`,
        'keep: registration: connector c-0123456789abcdef0123 in group default with https://connect.example.com:8444, kept (--force registers again)',
        `keep: unit ${CONNECTOR_SERVICE.unitPath}: unchanged`,
      ],
    );
    await applyPlan(second, again.system, { progress: () => undefined });
    assert.deepEqual(again.ran, ['systemctl daemon-reload', 'systemctl enable --now gatehouse-connector'], 'no restart, no useradd');
  });

  it('rewrites a unit that differs, and restarts the running service', async () => {
    writeRegistration(dir);
    await applyPlan(await planInstall(fakeHost(dir).system, install), fakeHost(dir).system, { progress: () => undefined });
    const host = fakeHost(dir, { userExists: true });
    const steps = await planInstall(host.system, { ...install, execPath: '/opt/gatehouse/bin/gatehouse-connector' });
    assert.ok(titles(steps).includes(`file: unit ${CONNECTOR_SERVICE.unitPath} (0644), replacing a different one`));
    await applyPlan(steps, host.system, { progress: () => undefined });
    assert.deepEqual(host.ran, ['systemctl daemon-reload', 'systemctl enable --now gatehouse-connector', 'systemctl restart gatehouse-connector']);
  });

  it('refuses a state directory registered with another service, unless --force', async () => {
    writeRegistration(dir, 'https://other.example.com');
    await assert.rejects(
      planInstall(fakeHost(dir).system, install),
      (error: unknown) =>
        error instanceof ServiceInstallError &&
        error.code === 'ERR_INSTALL_CONFLICT' &&
        /registered with https:\/\/other\.example\.com.*--force/.test(error.message),
    );
    const forced = await planInstall(fakeHost(dir).system, { ...install, registration: { serviceUrl: SERVICE, force: true, token: 't' } });
    assert.ok(titles(forced).some((title) => /^register: .*replacing connector c-0123456789abcdef0123/.test(title)));
    assert.ok(titles(forced).includes('command: give /var/lib/gatehouse-connector to gatehouse-connector'));
    assert.ok(titles(forced).includes('command: restart gatehouse-connector (its unit or registration changed)'));
  });

  it('stops at a failing command, naming it and what it said', async () => {
    writeRegistration(dir);
    const host = fakeHost(dir, { fail: 'systemctl daemon-reload' });
    await assert.rejects(
      applyPlan(await planInstall(host.system, install), host.system, { progress: () => undefined }),
      (error: unknown) =>
        error instanceof ServiceInstallError &&
        error.code === 'ERR_INSTALL_STEP_FAILED' &&
        error.message === '`systemctl daemon-reload` failed (exit 1): Failed to connect to bus',
    );
    assert.ok(!host.ran.includes('systemctl enable --now gatehouse-connector'));
  });

  it('uninstalls: disable, remove the unit, reload; --purge also the state, the settings and the user', async () => {
    writeRegistration(dir);
    const kept = await planUninstall(fakeHost(dir, { userExists: true }).system, false);
    assert.match(titles(kept).at(-1) ?? '', /kept \(--purge removes them\)/);
    const host = fakeHost(dir, { userExists: true });
    const steps = await planUninstall(host.system, true);
    assert.match(describePlan(steps, host.system), /rm -rf .*\/var\/lib\/gatehouse-connector/);
    await applyPlan(steps, host.system, { progress: () => undefined });
    assert.deepEqual(host.ran, ['systemctl disable --now gatehouse-connector', 'systemctl daemon-reload', 'userdel gatehouse-connector']);
    assert.equal(await host.system.readFile(join(CONNECTOR_SERVICE.stateDir, 'connector.json')), undefined);
  });
});
