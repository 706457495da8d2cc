#!/usr/bin/env node
import { ConnectorArgumentError, ConnectorError } from '../errors/connector-error.ts';
import { CONNECTOR_PROGRAM, say } from './connector-commands.ts';
import { answerCommandLine, parseCommandLine, usageErrorText } from './usage.ts';

async function main(argv: string[]): Promise<number> {
  const line = parseCommandLine(CONNECTOR_PROGRAM, argv);
  if (line.kind !== 'command') return answerCommandLine(line);
  const command = line.command.name;
  const { values } = line;
  const usageError = (message: string): number => {
    process.stderr.write(usageErrorText(CONNECTOR_PROGRAM.name, command, message));
    return 2;
  };
  try {
    // Each command loads what it runs: the connector's modules take about a second to load, which --help, --version and a
    // usage mistake should not wait for.
    if (command.startsWith('service ')) return await (await import('./connector-service.ts')).serviceCommand(command, values, usageError);
    return await (await import('./connector-run.ts')).runConnectorCommand(command, values, usageError);
  } catch (error) {
    // A mistake in a value that only the library could judge (a bad --allow entry, a bad --service URL).
    if (error instanceof ConnectorArgumentError) return usageError(error.message);
    throw error;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // Operator-facing text only: a ConnectorError's message says what to do; no stack traces.
    const prefix = error instanceof ConnectorError ? `${error.code}: ` : '';
    say(`${prefix}${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
