import { once } from 'node:events';
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
