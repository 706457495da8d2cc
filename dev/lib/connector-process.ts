import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startNode, type RunningProcess } from './processes.ts';

/** The `gatehouse-connector` CLI, run from source on the Node that runs the tests. */
export const CONNECTOR_CLI = fileURLToPath(new URL('../../src/cli/gatehouse-connector.ts', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

// The child must not inherit a state directory or token from the developer's shell.
const CLEAN_ENV = { GATEHOUSE_CONNECTOR_STATE_DIR: undefined, GATEHOUSE_CONNECTOR_TOKEN: undefined };

/** Starts `gatehouse-connector ARGS` (e.g. `run`, or `register` waiting for a device login). */
export function startConnectorCli(args: string[], env: NodeJS.ProcessEnv = {}): RunningProcess {
  return startNode(CONNECTOR_CLI, args, { env: { ...CLEAN_ENV, ...env } });
}

/** Runs `gatehouse-connector ARGS` to completion. */
export async function runConnectorCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const running = startConnectorCli(args, env);
  const [code] = (await once(running.child, 'exit')) as [number | null];
  return { code, stdout: running.stdout(), stderr: running.stderr() };
}

/** The JSON log lines a `run` wrote on stdout. */
export function logLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Waits for a started CLI to exit on its own and returns its exit code. */
export async function exitOf(running: RunningProcess): Promise<number | null> {
  const { child } = running;
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

export interface RunningConnector {
  readonly process: RunningProcess;
  readonly stateDir: string;
  readonly id: string;
}

/** Registers a connector with a real admin token and starts `run`; resolves once its tunnels are up. */
export async function startRegisteredConnector(
  service: { connectorUrl: string; connectorCaFile: string; adminToken(user?: string): Promise<string> },
  stateDir: string,
  runArgs: string[] = [],
  /** For `run` only, e.g. NODE_OPTIONS with an inspector on loopback so a test can force a full GC. */
  runEnv: NodeJS.ProcessEnv = {},
): Promise<RunningConnector> {
  const token = await service.adminToken('alice');
  const registered = await runConnectorCli(['register', '--service', service.connectorUrl, '--state-dir', stateDir, '--ca-file', service.connectorCaFile], {
    GATEHOUSE_CONNECTOR_TOKEN: token,
  });
  if (registered.code !== 0) throw new Error(`register failed:\n${registered.stderr}`);
  const id = /(c-[0-9a-f]{20})/.exec(registered.stderr + registered.stdout)?.[1] ?? '';
  const process = startConnectorCli(['run', '--state-dir', stateDir, '--log-level', 'info', ...runArgs], runEnv);
  const flag = runArgs.indexOf('--tunnels');
  const tunnels = (flag === -1 ? undefined : Number(runArgs[flag + 1])) || 2;
  try {
    // A connector whose first configuration lists several gateway instances names each tunnel after its instance.
    for (let index = 1; index <= tunnels; index += 1) await process.waitFor(new RegExp(`tunnel-${index}(@\\S+)? link connected`));
  } catch (error) {
    // The caller never gets a connector that did not come up, so it could not stop it: stop it here.
    await process.stop('SIGKILL');
    throw error;
  }
  return { process, stateDir, id };
}

/** Resident memory of a process, in bytes (Linux). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kib ?? 0) * 1024;
}
