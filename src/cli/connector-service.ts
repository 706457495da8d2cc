/**
 * `gatehouse-connector service install|uninstall|status`: the connector as a
 * systemd service in one step, as root, or under a prefix (`--root DIR`), or
 * only printed (`--dry-run`). The steps are in src/connector/service-install/.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { ConnectorArgumentError, ConnectorError } from '../errors/connector-error.ts';
import { applyPlan, describePlan } from '../connector/service-install/apply.ts';
import { ServiceInstallError } from '../connector/service-install/errors.ts';
import { planInstall, planUninstall } from '../connector/service-install/plan.ts';
import { formatServiceStatus, serviceStatus } from '../connector/service-install/status.ts';
import { hostSystem, prefixSystem, type InstallSystem } from '../connector/service-install/system.ts';
import { checkExecPath, CONNECTOR_SERVICE } from '../connector/service-install/unit.ts';
import { resolveProxySettings } from '../connector/proxy-settings.ts';
import { registrationFromOptions } from './connector-commands.ts';
import { flagOption, stringOption, type OptionValues } from './usage.ts';

const say = (line: string): void => {
  process.stderr.write(`gatehouse-connector: ${line}\n`);
};

/** The `gatehouse-connector` on PATH, as the shell would run it; systemd needs the absolute path. */
function findOnPath(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!isAbsolute(dir)) continue;
    const candidate = join(dir, CONNECTOR_SERVICE.name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** SIGINT/SIGTERM abort a registration waiting for an administrator. */
function abortOnSignals(): { signal: AbortSignal; remove: () => void } {
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return { signal: controller.signal, remove: () => (process.off('SIGINT', onSignal), process.off('SIGTERM', onSignal)) };
}

async function install(values: OptionValues, system: InstallSystem, dryRun: boolean, usageError: (message: string) => number): Promise<number> {
  const registered = registrationFromOptions(values);
  if (typeof registered === 'string') return usageError(`service install: ${registered}`);
  // Registering goes out as `register` would: through --proxy, else HTTPS_PROXY, minus NO_PROXY.
  const registration = { ...registered, proxy: resolveProxySettings({ option: stringOption(values, 'proxy'), env: process.env }) };
  const bin = stringOption(values, 'bin');
  const execPath = checkExecPath(bin ?? findOnPath() ?? CONNECTOR_SERVICE.defaultExecPath);
  if (/^\/(home|root|run\/user)\//.test(execPath)) {
    say(`warning: ${execPath} is under a home directory, which the unit hides (ProtectHome=yes); pass --bin with a path under /usr`);
  }
  const steps = await planInstall(system, { registration, execPath });
  if (dryRun) {
    process.stdout.write(`Dry run: nothing is changed. service install would take these steps:\n${describePlan(steps, system)}`);
    return 0;
  }
  const stop = abortOnSignals();
  try {
    await applyPlan(steps, system, { registration, progress: say, signal: stop.signal });
  } finally {
    stop.remove();
  }
  say(
    system.managesHost
      ? `installed: systemctl status ${CONNECTOR_SERVICE.name}; journalctl -u ${CONNECTOR_SERVICE.name} -f`
      : `installed under ${system.localPath('/')}: on the target machine, create the user ${CONNECTOR_SERVICE.user}, chown -R its state directory, then systemctl enable --now ${CONNECTOR_SERVICE.name}`,
  );
  return 0;
}

async function main(name: string, values: OptionValues, usageError: (message: string) => number): Promise<number> {
  const command = name.slice('service '.length);
  const rootDir = stringOption(values, 'root');
  if (rootDir === '') return usageError('--root must not be empty');
  const dryRun = flagOption(values, 'dry-run');
  if (command !== 'status' && rootDir === undefined && !dryRun && !isRoot()) {
    throw new ServiceInstallError(
      'ERR_INSTALL_NOT_ROOT',
      `service ${command} changes the system and must run as root: sudo gatehouse-connector service ${command} … (or --dry-run to see the steps)`,
    );
  }
  const system = rootDir === undefined ? hostSystem() : prefixSystem(rootDir);
  switch (command) {
    case 'install':
      return install(values, system, dryRun, usageError);
    case 'uninstall': {
      const steps = await planUninstall(system, flagOption(values, 'purge'));
      if (dryRun) {
        process.stdout.write(`Dry run: nothing is changed. service uninstall would take these steps:\n${describePlan(steps, system)}`);
        return 0;
      }
      await applyPlan(steps, system, { progress: say });
      say('uninstalled. If the connector was registered, an administrator revokes it on the service.');
      return 0;
    }
    default: {
      const status = await serviceStatus(system);
      process.stdout.write(formatServiceStatus(status));
      return status.ok ? 0 : 1;
    }
  }
}

/** Runs `gatehouse-connector service install|uninstall|status` with its parsed options; failures are one line on stderr. */
export async function serviceCommand(name: string, values: OptionValues, usageError: (message: string) => number): Promise<number> {
  try {
    return await main(name, values, usageError);
  } catch (error) {
    if (error instanceof ConnectorArgumentError) return usageError(error.message);
    if (error instanceof ServiceInstallError && error.code === 'ERR_INSTALL_ARGUMENT') return usageError(error.message);
    const prefix = error instanceof ServiceInstallError || error instanceof ConnectorError ? `${error.code}: ` : '';
    say(`${prefix}${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
