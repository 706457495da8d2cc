/**
 * Real `gatehouse-connector` processes in one group: registered once with a
 * real admin token, then `run`, killed with SIGKILL and run again from the
 * same state directory, as a crashed host that comes back does.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runConnectorCli, startConnectorCli } from '../../dev/lib/connector-process.ts';
import type { RunningProcess } from '../../dev/lib/processes.ts';

export const TUNNELS_PER_CONNECTOR = 2;
export const CONNECTOR_GROUP = 'soak';

export interface SoakConnector {
  readonly name: string;
  readonly id: string;
  run(): Promise<void>;
  kill(): Promise<void>;
  /** SIGTERM at the end of the run. */
  stop(): Promise<void>;
}

export interface ConnectorPlane {
  readonly connectorUrl: string;
  readonly connectorCaFile: string;
  adminToken(): Promise<string>;
}

export async function registerConnector(plane: ConnectorPlane, name: string, group: string): Promise<SoakConnector> {
  const stateDir = join(mkdtempSync(join(tmpdir(), 'gatehouse-soak-connector-')), name);
  const registered = await runConnectorCli(
    ['register', '--service', plane.connectorUrl, '--state-dir', stateDir, '--ca-file', plane.connectorCaFile, '--name', name, '--group', group],
    { GATEHOUSE_CONNECTOR_TOKEN: await plane.adminToken() },
  );
  if (registered.code !== 0) throw new Error(`connector ${name}: register failed (${registered.code}):\n${registered.stderr}`);
  const id = /(c-[0-9a-f]{20})/.exec(registered.stderr + registered.stdout)?.[1] ?? '';
  let running: RunningProcess | undefined;
  return {
    name,
    id,
    async run() {
      const started = startConnectorCli(['run', '--state-dir', stateDir, '--log-level', 'warn', '--tunnels', String(TUNNELS_PER_CONNECTOR)]);
      running = started;
      try {
        for (let n = 1; n <= TUNNELS_PER_CONNECTOR; n++) await started.waitFor(new RegExp(`tunnel-${n}(@\\S+)? link connected`), 30_000);
      } catch (error) {
        await started.stop('SIGKILL');
        throw error;
      }
    },
    async kill() {
      const current = running;
      running = undefined;
      await current?.stop('SIGKILL');
    },
    async stop() {
      const current = running;
      running = undefined;
      await current?.stop('SIGTERM');
    },
  };
}
