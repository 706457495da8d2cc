#!/usr/bin/env node
import { formatConnectorStatus } from '../connector/status-format.ts';
import { connectorStatus } from '../connector/status.ts';
import { ConnectorArgumentError, ConnectorError } from '../errors/connector-error.ts';
import { registerConnector } from '../connector/register.ts';
import { runConnector } from '../connector/supervisor.ts';
import { ConnectorEvents } from '../connector/connector-events.ts';
import { createConnectorHealthServer } from '../connector/health-server.ts';
import { formatListenAddress, parseListenAddress } from '../health/listen-address.ts';
import { MAX_TUNNELS_PER_CONNECTOR, TUNNELS_PER_CONNECTOR } from '../limits.ts';
import { createLogger, LOG_FORMATS, type LogFormat } from '../logging/logger.ts';
import { createMetricsRegistry } from '../metrics/registry.ts';
import { describeProxySettings, resolveProxySettings } from '../connector/proxy-settings.ts';
import { CONNECTOR_PROGRAM, DEFAULT_STATE_DIR, registrationFromOptions } from './connector-commands.ts';
import { serviceCommand } from './connector-service.ts';
import { answerCommandLine, flagOption, listOption, parseCommandLine, stringOption, usageErrorText, type OptionValues } from './usage.ts';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const say = (line: string): void => {
  process.stderr.write(`gatehouse-connector: ${line}\n`);
};

/** SIGTERM/SIGINT abort the returned signal; the remover takes the handlers away again. */
function stopOnSignals(): { signal: AbortSignal; remove: () => void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    // The first signal lets streams in flight finish; a second one is an operator who will not wait.
    if (controller.signal.aborted) {
      say(`${name} again, exiting now without waiting for streams in flight`);
      process.exit(1);
    }
    say(`${name}, stopping`);
    controller.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    signal: controller.signal,
    remove: () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}

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
    return await runCommand(command, values, usageError);
  } catch (error) {
    // A mistake in a value that only the library could judge (a bad --allow entry, a bad --service URL).
    if (error instanceof ConnectorArgumentError) return usageError(error.message);
    throw error;
  }
}

async function runCommand(command: string, values: OptionValues, usageError: (message: string) => number): Promise<number> {
  if (command.startsWith('service ')) return serviceCommand(command, values, usageError);
  const stateDir = stringOption(values, 'state-dir') ?? process.env['GATEHOUSE_CONNECTOR_STATE_DIR'] ?? DEFAULT_STATE_DIR;
  if (stateDir === '') return usageError('--state-dir must not be empty');
  // --proxy wins over HTTPS_PROXY; NO_PROXY applies to either. A bad value is a usage error (its credentials redacted).
  const proxy = resolveProxySettings({ option: stringOption(values, 'proxy'), env: process.env });
  if (proxy.proxy && command !== 'status') say(describeProxySettings(proxy));

  switch (command) {
    case 'register': {
      const registration = registrationFromOptions(values);
      if (typeof registration === 'string') return usageError(`${command}: ${registration}`);
      const stop = stopOnSignals();
      try {
        const summary = await registerConnector({
          ...registration,
          stateDir,
          progress: say,
          terminal: process.stderr,
          terminalPrefix: 'gatehouse-connector: ',
          signal: stop.signal,
          proxy,
        });
        process.stdout.write(
          `Registered connector ${summary.connectorId} in group ${summary.group} with ${summary.serviceUrl}\n` +
            `  state:        ${summary.stateDir}\n` +
            `  key:          ${summary.keyType === 'ec' ? 'EC P-256' : 'RSA'}\n` +
            `  certificate:  valid until ${summary.notAfter}, renewed after ${Math.round(summary.renewalAgeSeconds / 86_400)} days\n` +
            `  sha-256:      ${summary.certificateFingerprint256}\n` +
            `  allow-list:   ${summary.allowList === null ? 'none (any internal URL the service configures)' : summary.allowList.join(', ')}\n` +
            `Start it with: gatehouse-connector run --state-dir ${summary.stateDir}\n`,
        );
        return 0;
      } finally {
        stop.remove();
      }
    }
    case 'run': {
      const level = stringOption(values, 'log-level') ?? 'info';
      if (!LOG_LEVELS.includes(level)) return usageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
      const format = stringOption(values, 'log-format') ?? 'json';
      if (!(LOG_FORMATS as readonly string[]).includes(format)) return usageError(`--log-format must be one of ${LOG_FORMATS.join(', ')}`);
      const tunnelsText = stringOption(values, 'tunnels');
      const tunnels = tunnelsText === undefined ? TUNNELS_PER_CONNECTOR : Number(tunnelsText);
      if (tunnelsText?.trim() === '' || !Number.isInteger(tunnels) || tunnels < 1 || tunnels > MAX_TUNNELS_PER_CONNECTOR) {
        return usageError(`--tunnels must be a whole number from 1 to ${MAX_TUNNELS_PER_CONNECTOR}`);
      }
      const transport = stringOption(values, 'transport') ?? 'tls';
      if (transport !== 'tls' && transport !== 'websocket') return usageError('--transport must be tls or websocket');
      const metricsText = stringOption(values, 'metrics-address');
      const metricsAddress = metricsText === undefined ? undefined : parseListenAddress(metricsText);
      if (typeof metricsAddress === 'string') return usageError(`--metrics-address: ${metricsAddress}`);
      const log = createLogger({ level, format: format as LogFormat, destination: process.stdout }).child({ component: 'connector' });
      log.info({ proxy: proxy.proxy?.display ?? null, proxySource: proxy.source, noProxy: proxy.noProxy.texts }, describeProxySettings(proxy));
      // The connector's metrics and events, for the metrics address to serve.
      const metrics = createMetricsRegistry();
      const events = new ConnectorEvents();
      const health = metricsAddress ? createConnectorHealthServer({ events, metrics }) : undefined;
      if (health && metricsAddress) {
        const bound = await health.listen(metricsAddress.port, metricsAddress.host);
        say(`metrics and health on http://${formatListenAddress({ host: bound.address, port: bound.port })} (/healthz, /ready, /metrics)`);
      }
      const allow = listOption(values, 'allow');
      const stop = stopOnSignals();
      try {
        await runConnector({
          stateDir,
          log,
          metrics,
          events,
          progress: say,
          signal: stop.signal,
          tunnels,
          transport,
          proxy,
          ...(allow !== undefined ? { allow } : {}),
        });
        say('stopped');
        return 0;
      } finally {
        stop.remove();
        await health?.close();
      }
    }
    default: {
      const status = await connectorStatus({ stateDir, proxy });
      process.stdout.write(flagOption(values, 'json') ? `${JSON.stringify(status, null, 2)}\n` : formatConnectorStatus(status));
      return status.service.accepted ? 0 : 1;
    }
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
