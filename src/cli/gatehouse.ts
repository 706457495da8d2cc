#!/usr/bin/env node
import cluster from 'node:cluster';
import { takeConnectorId, valuedOptions } from './admin-commands.ts';
import { GATEHOUSE_PROGRAM } from './gatehouse-commands.ts';
import { answerCommandLine, parseCommandLine, stringOption, usageErrorText } from './usage.ts';

async function main(argv: string[]): Promise<number> {
  const taken = takeConnectorId(argv, valuedOptions(GATEHOUSE_PROGRAM.commands));
  const line = parseCommandLine(GATEHOUSE_PROGRAM, taken.argv);
  if (line.kind !== 'command') return answerCommandLine(line);
  const { values } = line;
  const command = line.command.name;
  const usageError = (message: string): number => {
    process.stderr.write(usageErrorText('gatehouse', command, message));
    return 2;
  };
  // Each command loads what it runs: the gateway's modules take about a second to load, which --help, --version and a
  // usage mistake should not wait for.
  if (command.startsWith('admin ')) return (await import('./admin-run.ts')).runAdmin(command, values, taken.id, usageError);
  const configFile = stringOption(values, 'config') ?? (process.env['GATEHOUSE_CONFIG'] || undefined);
  if (configFile === undefined) return usageError(`${command}: --config FILE (or GATEHOUSE_CONFIG) is required`);
  return (await import('./serve-command.ts')).runServeCommand(command, values, configFile, usageError);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // A worker's IPC channel would keep it alive once everything else is closed (and node:cluster exits 0 on a disconnect).
    if (cluster.isWorker) process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`gatehouse: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
    if (cluster.isWorker) process.exit(1);
  },
);
