/** `service status`: is the unit there, is the connector registered, does systemd run it. */
import { join } from 'node:path';
import { readRecord, type ConnectorRecord } from '../state.ts';
import { STATE_FILES } from '../state-files.ts';
import { commands, type InstallSystem } from './system.ts';
import { CONNECTOR_SERVICE } from './unit.ts';

export interface ServiceStatus {
  readonly unitInstalled: boolean;
  readonly registration: ConnectorRecord | undefined;
  /** `systemctl is-enabled` / `is-active`, or undefined under a prefix. */
  readonly enabled: string | undefined;
  readonly active: string | undefined;
  /** Installed, registered, and (on the host) running. */
  readonly ok: boolean;
}

export async function serviceStatus(system: InstallSystem): Promise<ServiceStatus> {
  const { unitPath, stateDir, name } = CONNECTOR_SERVICE;
  const unitInstalled = (await system.readFile(unitPath)) !== undefined;
  const hasRecord = (await system.readFile(join(stateDir, STATE_FILES.record))) !== undefined;
  const registration = hasRecord ? await readRecord(system.localPath(stateDir)) : undefined;
  const ask = async (verb: string): Promise<string | undefined> =>
    system.managesHost ? (await system.run(commands.systemctl(verb, name))).stdout.trim() || 'unknown' : undefined;
  const enabled = await ask('is-enabled');
  const active = await ask('is-active');
  return { unitInstalled, registration, enabled, active, ok: unitInstalled && registration !== undefined && (active === undefined || active === 'active') };
}

export function formatServiceStatus(status: ServiceStatus): string {
  const { unitPath, stateDir } = CONNECTOR_SERVICE;
  const record = status.registration;
  return (
    `unit:          ${status.unitInstalled ? unitPath : 'not installed'}\n` +
    `registration:  ${record ? `connector ${record.connectorId} in group ${record.group} with ${record.serviceUrl}` : `none in ${stateDir}`}\n` +
    (status.active === undefined ? '' : `service:       ${status.active}, ${status.enabled ?? 'unknown'}\n`)
  );
}
