/**
 * `gatehouse-connector service install|uninstall|status`: the connector as a
 * systemd service in one step, as root, or under a prefix (`--root DIR`), or
 * only printed (`--dry-run`). The steps are in src/connector/service-install/.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConnectorArgumentError, ConnectorError } from '../errors/connector-error.ts';
import { applyPlan, describePlan } from '../connector/service-install/apply.ts';
import { ServiceInstallError } from '../connector/service-install/errors.ts';
import { planInstall, planUninstall } from '../connector/service-install/plan.ts';
import { formatServiceStatus, serviceStatus } from '../connector/service-install/status.ts';
import { hostSystem, prefixSystem, type InstallSystem } from '../connector/service-install/system.ts';
import { checkExecPath, CONNECTOR_SERVICE } from '../connector/service-install/unit.ts';

export const SERVICE_USAGE = `Usage:
  gatehouse-connector service install --service URL [--token TOKEN] [--ca-file FILE] [--idp-ca-file FILE]
                                      [--group GROUP] [--name NAME] [--force] [--allow TARGET]...
                                      [--bin PATH] [--root DIR] [--dry-run]
  gatehouse-connector service uninstall [--purge] [--root DIR] [--dry-run]
  gatehouse-connector service status [--root DIR]

Commands:
  install    create the user ${CONNECTOR_SERVICE.user} and ${CONNECTOR_SERVICE.stateDir} (0700), register there
             (same options as register; the token is used once, never stored), write
             ${CONNECTOR_SERVICE.unitPath}, then systemctl daemon-reload and enable --now.
             Run again, it keeps the registration and rewrites the unit only if it changed.
  uninstall  stop, disable and remove the unit; --purge also removes the state (the private key),
             ${CONNECTOR_SERVICE.configDir} and the user. Revoke the connector on the service first.
  status     whether the unit is installed, the connector registered and the service running

Options:
      --bin PATH       the gatehouse-connector the unit runs (default: the one on PATH,
                       else ${CONNECTOR_SERVICE.defaultExecPath})
      --root DIR       install under DIR (DIR/etc/systemd/system, DIR/var/lib/...): files only, no user,
                       no chown, no systemctl, and no need for root
      --dry-run        print every step, file and command, and change nothing
      --purge          uninstall: remove the state, the settings and the user too
  -h, --help           show this help
The other options are those of register (gatehouse-connector --help).
`;

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

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      service: { type: 'string' },
      token: { type: 'string' },
      'ca-file': { type: 'string' },
      'idp-ca-file': { type: 'string' },
      group: { type: 'string' },
      name: { type: 'string' },
      force: { type: 'boolean' },
      allow: { type: 'string', multiple: true },
      bin: { type: 'string' },
      root: { type: 'string' },
      'dry-run': { type: 'boolean' },
      purge: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

const OPTIONS: Readonly<Record<string, readonly string[]>> = {
  install: ['service', 'token', 'ca-file', 'idp-ca-file', 'group', 'name', 'force', 'allow', 'bin', 'root', 'dry-run'],
  uninstall: ['purge', 'root', 'dry-run'],
  status: ['root'],
};

function usageError(message: string): number {
  say(`${message} (see gatehouse-connector service --help)`);
  return 2;
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

async function install(values: ReturnType<typeof parse>['values'], system: InstallSystem, dryRun: boolean): Promise<number> {
  if (values.service === undefined) return usageError('service install: --service URL is required');
  const envToken = process.env['GATEHOUSE_CONNECTOR_TOKEN'];
  const token = values.token ?? (envToken === undefined || envToken === '' ? undefined : envToken);
  const execPath = checkExecPath(values.bin ?? findOnPath() ?? CONNECTOR_SERVICE.defaultExecPath);
  if (/^\/(home|root|run\/user)\//.test(execPath)) {
    say(`warning: ${execPath} is under a home directory, which the unit hides (ProtectHome=yes); pass --bin with a path under /usr`);
  }
  const registration = {
    serviceUrl: values.service,
    force: values.force === true,
    ...(token !== undefined ? { token } : {}),
    ...(values['ca-file'] !== undefined ? { caFile: values['ca-file'] } : {}),
    ...(values['idp-ca-file'] !== undefined ? { idpCaFile: values['idp-ca-file'] } : {}),
    ...(values.group !== undefined ? { group: values.group } : {}),
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(values.allow !== undefined ? { allow: values.allow } : {}),
  };
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

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parse(argv);
  } catch (error) {
    return usageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(SERVICE_USAGE);
    return 0;
  }
  const command = positionals[0];
  if (command === undefined) return usageError('service: a command is required: install, uninstall or status');
  const allowed = OPTIONS[command];
  if (allowed === undefined) return usageError(`service: unknown command "${command}" (install, uninstall or status)`);
  if (positionals.length > 1) return usageError(`service ${command}: unexpected argument "${positionals[1]}"`);
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && !allowed.includes(name)) return usageError(`--${name} does not apply to service ${command}`);
  }
  if (values.root === '') return usageError('--root must not be empty');
  const dryRun = values['dry-run'] === true;
  if (command !== 'status' && values.root === undefined && !dryRun && !isRoot()) {
    throw new ServiceInstallError(
      'ERR_INSTALL_NOT_ROOT',
      `service ${command} changes the system and must run as root: sudo gatehouse-connector service ${command} … (or --dry-run to see the steps)`,
    );
  }
  const system = values.root === undefined ? hostSystem() : prefixSystem(values.root);
  switch (command) {
    case 'install':
      return install(values, system, dryRun);
    case 'uninstall': {
      const steps = await planUninstall(system, values.purge === true);
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

/** Runs `gatehouse-connector service ARGS` and returns its exit code; failures are one line on stderr. */
export async function serviceCommand(argv: string[]): Promise<number> {
  try {
    return await main(argv);
  } catch (error) {
    if (error instanceof ConnectorArgumentError) return usageError(error.message);
    if (error instanceof ServiceInstallError && error.code === 'ERR_INSTALL_ARGUMENT') return usageError(error.message);
    const prefix = error instanceof ServiceInstallError || error instanceof ConnectorError ? `${error.code}: ` : '';
    say(`${prefix}${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
