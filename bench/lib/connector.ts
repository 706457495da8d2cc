/** A real `gatehouse-connector` process for the bench and the endurance test: registered with an admin token, then `run`. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runConnectorCli, startConnectorCli } from '../../dev/lib/connector-process.ts';
import type { RunningProcess } from '../../dev/lib/processes.ts';
import type { Child } from './child.ts';
import type { GatewayServiceInfo } from '../gateway-service.ts';

export interface ConnectorOptions {
  readonly name: string;
  readonly group?: string;
  readonly tunnels?: number;
  readonly transport?: 'tls' | 'websocket';
  /** e.g. --trace-warnings, --cpu-prof (NODE_OPTIONS of the connector process). */
  readonly nodeOptions?: string;
  readonly logLevel?: string;
}

export interface RegisteredConnector {
  readonly stateDir: string;
  readonly id: string;
}

export async function registerConnector(service: Child<GatewayServiceInfo>, options: ConnectorOptions): Promise<RegisteredConnector> {
  const stateDir = join(mkdtempSync(join(tmpdir(), 'gatehouse-bench-connector-')), options.name);
  const token = await service.call<string>('adminToken');
  const registered = await runConnectorCli(
    [
      'register',
      '--service',
      service.info.connectorUrl,
      '--state-dir',
      stateDir,
      '--ca-file',
      service.info.connectorCaFile,
      '--name',
      options.name,
      ...(options.group ? ['--group', options.group] : []),
    ],
    { GATEHOUSE_CONNECTOR_TOKEN: token },
  );
  if (registered.code !== 0) throw new Error(`connector register failed (${registered.code}):\n${registered.stderr}`);
  const id = /(c-[0-9a-f]{20})/.exec(registered.stderr + registered.stdout)?.[1] ?? '';
  return { stateDir, id };
}

/** Starts `run` and resolves once every tunnel is connected (named tunnel-N, or tunnel-N@<instance> when the service shares a store with others). */
export async function runConnector(registered: RegisteredConnector, options: ConnectorOptions): Promise<RunningProcess> {
  const tunnels = options.tunnels ?? 2;
  const running = startConnectorCli(
    [
      'run',
      '--state-dir',
      registered.stateDir,
      '--log-level',
      options.logLevel ?? 'warn',
      '--tunnels',
      String(tunnels),
      '--transport',
      options.transport ?? 'tls',
    ],
    options.nodeOptions ? { NODE_OPTIONS: options.nodeOptions } : {},
  );
  try {
    for (let n = 1; n <= tunnels; n++) await running.waitFor(new RegExp(`tunnel-${n}(@\\S+)? link connected`), 30_000);
  } catch (error) {
    await running.stop('SIGKILL');
    throw error;
  }
  return running;
}
