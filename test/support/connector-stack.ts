import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { startRegisteredConnector, type RunningConnector } from '../../dev/lib/connector-process.ts';
import { toLoopback } from './loopback.ts';
import { startStack, type Stack, type StackOptions } from './stack.ts';

export interface ConnectorStackOptions extends StackOptions {
  /** Start of the temporary folder's name that holds the connectors' state directories, e.g. `gatehouse-queue-`. */
  readonly tmpPrefix: string;
  /** The agent's connection cap per origin (default: undici's). */
  readonly agentConnections?: number;
}

/**
 * The real stack with its connector listener (unless `connectors: false`),
 * and real connector processes started on demand, each registered with an
 * admin token and its state in a folder of its own.
 */
export interface ConnectorStack {
  readonly stack: Stack;
  /** An undici Agent that trusts the stack's CA and sends every published host's name to 127.0.0.1. */
  readonly agent: Agent;
  /** Registers a connector (state in `<folder>/<name>`) and runs `gatehouse-connector run RUNARGS`; resolves once its tunnels are up. */
  startConnector(name: string, runArgs?: string[], runEnv?: NodeJS.ProcessEnv): Promise<RunningConnector>;
  /** Kills the connectors started since the last call (for an afterEach). */
  stopConnectors(): Promise<void>;
  /** Stops the connectors still running (SIGKILL unless told otherwise), then closes the agent and the stack and removes the folder. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startConnectorStack(options: ConnectorStackOptions): Promise<ConnectorStack> {
  const { tmpPrefix, agentConnections, ...stackOptions } = options;
  const dir = mkdtempSync(join(tmpdir(), tmpPrefix));
  let stack: Stack;
  try {
    stack = await startStack({ ...stackOptions, connectors: stackOptions.connectors ?? true });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const agent = new Agent({
    connect: { ca: stack.ca.certPem, lookup: toLoopback },
    ...(agentConnections === undefined ? {} : { connections: agentConnections }),
  });
  const running: RunningConnector[] = [];
  const stopAll = async (signal: NodeJS.Signals): Promise<void> => {
    for (const connector of running.splice(0)) await connector.process.stop(signal);
  };
  return {
    stack,
    agent,
    async startConnector(name, runArgs = [], runEnv = {}) {
      const connector = await startRegisteredConnector(stack, join(dir, name), runArgs, runEnv);
      running.push(connector);
      return connector;
    },
    stopConnectors: () => stopAll('SIGKILL'),
    async stop(signal = 'SIGKILL') {
      await stopAll(signal);
      await agent.close();
      await stack.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
