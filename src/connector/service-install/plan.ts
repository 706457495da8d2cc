/**
 * What `service install` and `service uninstall` will do, worked out before
 * anything changes: each step says itself in one line (and, for a file, its
 * full text), so `--dry-run` prints exactly the plan that a real run applies.
 * Looking at the machine (the unit there, a registration there) is what makes
 * a second run keep what is already right.
 */
import { join } from 'node:path';
import type { RegisterOptions } from '../register.ts';
import { parseServiceUrl } from '../service-client.ts';
import { readRecord, type ConnectorRecord } from '../state.ts';
import { STATE_FILES } from '../state-files.ts';
import { ServiceInstallError } from './errors.ts';
import { commands, type InstallSystem, type Owner } from './system.ts';
import { CONNECTOR_SERVICE, renderConnectorEnv, renderConnectorUnit } from './unit.ts';

export type Step =
  | { readonly kind: 'command'; readonly title: string; readonly argv: readonly string[] }
  | { readonly kind: 'directory'; readonly title: string; readonly path: string; readonly mode: number; readonly owner: Owner }
  | { readonly kind: 'file'; readonly title: string; readonly path: string; readonly mode: number; readonly owner: Owner; readonly content: string }
  | { readonly kind: 'register'; readonly title: string; readonly stateDir: string; readonly owner: Owner }
  | { readonly kind: 'remove'; readonly title: string; readonly path: string }
  /** Nothing to do, and why: said in the progress, so a second run shows what it kept. */
  | { readonly kind: 'keep'; readonly title: string };

/** The registration inputs of `gatehouse-connector register`, less the state directory the service fixes. */
export type InstallRegistration = Omit<RegisterOptions, 'stateDir' | 'log' | 'progress' | 'signal' | 'keyBits'>;

export interface InstallOptions {
  readonly registration: InstallRegistration;
  /** Absolute path of `gatehouse-connector` for the unit's ExecStart. */
  readonly execPath: string;
}

const ROOT: Owner = { user: 'root', group: 'root' };
const SERVICE_USER: Owner = { user: CONNECTOR_SERVICE.user, group: CONNECTOR_SERVICE.user };
const CONFIG_OWNER: Owner = { user: 'root', group: CONNECTOR_SERVICE.user };
const skipped = (what: string): Step => ({ kind: 'keep', title: `${what}: skipped under --root (the machine that gets these files does it)` });

async function userSteps(system: InstallSystem): Promise<Step[]> {
  const { user } = CONNECTOR_SERVICE;
  if (!system.managesHost) return [skipped(`system user ${user}`)];
  if ((await system.run(commands.userExists(user))).code === 0) return [{ kind: 'keep', title: `system user ${user}: exists, kept` }];
  return [{ kind: 'command', title: `create the system user ${user} (no shell, no home)`, argv: commands.createUser(user) }];
}

/** The registration already in the state directory, or undefined when there is none (or it cannot be read yet). */
async function currentRecord(system: InstallSystem): Promise<ConnectorRecord | undefined> {
  const stateDir = system.localPath(CONNECTOR_SERVICE.stateDir);
  if ((await system.readFile(join(CONNECTOR_SERVICE.stateDir, STATE_FILES.record)).catch(() => undefined)) === undefined) return undefined;
  return readRecord(stateDir);
}

async function registrationSteps(system: InstallSystem, registration: InstallRegistration): Promise<Step[]> {
  const { stateDir } = CONNECTOR_SERVICE;
  const serviceUrl = parseServiceUrl(registration.serviceUrl).origin;
  const record = await currentRecord(system);
  if (record !== undefined && registration.force !== true) {
    if (record.serviceUrl !== serviceUrl) {
      throw new ServiceInstallError(
        'ERR_INSTALL_CONFLICT',
        `${stateDir} is registered with ${record.serviceUrl}, not ${serviceUrl}. To register again (the old certificate stays valid until an administrator revokes connector ${record.connectorId}), add --force.`,
      );
    }
    return [
      {
        kind: 'keep',
        title: `registration: connector ${record.connectorId} in group ${record.group} with ${record.serviceUrl}, kept (--force registers again)`,
      },
    ];
  }
  const how = registration.token !== undefined ? "with the administrator's token" : 'after an administrator approves the device login';
  const group = registration.group === undefined ? "the service's default group" : `group ${registration.group}`;
  const steps: Step[] = [
    {
      kind: 'register',
      title: `register with ${serviceUrl} in ${group}, ${how}, into ${stateDir}${record ? ` (replacing connector ${record.connectorId})` : ''}`,
      stateDir,
      owner: SERVICE_USER,
    },
  ];
  if (system.managesHost)
    steps.push({ kind: 'command', title: `give ${stateDir} to ${SERVICE_USER.user}`, argv: commands.chown(SERVICE_USER, stateDir, true) });
  return steps;
}

/** Every step of `service install`, in order. */
export async function planInstall(system: InstallSystem, options: InstallOptions): Promise<Step[]> {
  const { name, unitPath, stateDir, configDir, envFile } = CONNECTOR_SERVICE;
  const unit = renderConnectorUnit({ execPath: options.execPath });
  const steps: Step[] = [...(await userSteps(system))];
  steps.push({ kind: 'directory', title: `state directory ${stateDir} (0700, ${SERVICE_USER.user})`, path: stateDir, mode: 0o700, owner: SERVICE_USER });
  steps.push({
    kind: 'directory',
    title: `settings directory ${configDir} (0750, root:${CONFIG_OWNER.group})`,
    path: configDir,
    mode: 0o750,
    owner: CONFIG_OWNER,
  });
  steps.push(
    (await system.readFile(envFile)) === undefined
      ? {
          kind: 'file',
          title: `settings ${envFile} (0640, root:${CONFIG_OWNER.group})`,
          path: envFile,
          mode: 0o640,
          owner: CONFIG_OWNER,
          content: renderConnectorEnv(),
        }
      : { kind: 'keep', title: `settings ${envFile}: exists, kept as the operator left it` },
  );
  const registration = await registrationSteps(system, options.registration);
  steps.push(...registration);
  const existing = await system.readFile(unitPath);
  const unitChanged = existing !== unit;
  steps.push(
    unitChanged
      ? {
          kind: 'file',
          title: `unit ${unitPath} (0644)${existing === undefined ? '' : ', replacing a different one'}`,
          path: unitPath,
          mode: 0o644,
          owner: ROOT,
          content: unit,
        }
      : { kind: 'keep', title: `unit ${unitPath}: unchanged` },
  );
  if (!system.managesHost) return [...steps, skipped(`systemctl daemon-reload, enable --now ${name}`)];
  steps.push({ kind: 'command', title: 'reload systemd', argv: commands.systemctl('daemon-reload') });
  steps.push({ kind: 'command', title: `enable and start ${name}`, argv: commands.systemctl('enable', '--now', name) });
  // enable --now leaves a running service alone: a new unit or a new certificate needs a restart.
  const reRegistered = registration.some((step) => step.kind === 'register') && options.registration.force === true;
  if ((unitChanged && existing !== undefined) || reRegistered) {
    steps.push({ kind: 'command', title: `restart ${name} (its unit or registration changed)`, argv: commands.systemctl('restart', name) });
  }
  return steps;
}

/** Every step of `service uninstall`; the state (private key) and the user go only with `purge`. */
export async function planUninstall(system: InstallSystem, purge: boolean): Promise<Step[]> {
  const { name, unitPath, stateDir, configDir, user } = CONNECTOR_SERVICE;
  const steps: Step[] = [];
  if (system.managesHost) steps.push({ kind: 'command', title: `stop and disable ${name}`, argv: commands.systemctl('disable', '--now', name) });
  steps.push({ kind: 'remove', title: `remove ${unitPath}`, path: unitPath });
  if (system.managesHost) steps.push({ kind: 'command', title: 'reload systemd', argv: commands.systemctl('daemon-reload') });
  if (!purge) return [...steps, { kind: 'keep', title: `${stateDir}, ${configDir} and the user ${user}: kept (--purge removes them)` }];
  steps.push({ kind: 'remove', title: `remove ${stateDir} (the private key goes with it)`, path: stateDir });
  steps.push({ kind: 'remove', title: `remove ${configDir}`, path: configDir });
  if (system.managesHost && (await system.run(commands.userExists(user))).code === 0) {
    steps.push({ kind: 'command', title: `delete the system user ${user}`, argv: commands.deleteUser(user) });
  }
  return steps;
}
