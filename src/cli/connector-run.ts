/**
 * `gatehouse-connector register`, `run` and `status`: what talks to the
 * service and runs the tunnels. Loaded only for these commands, so that
 * --help, --version and a usage mistake answer without loading the connector.
 */
import { formatConnectorStatus } from '../connector/status-format.ts';
import { connectorStatus } from '../connector/status.ts';
import { registerConnector } from '../connector/register.ts';
import { runConnector } from '../connector/supervisor.ts';
import { ConnectorEvents } from '../connector/connector-events.ts';
import { createConnectorHealthServer } from '../connector/health-server.ts';
import { formatListenAddress, parseListenAddress } from '../health/listen-address.ts';
import { MAX_TUNNELS_PER_CONNECTOR, TUNNELS_PER_CONNECTOR } from '../limits.ts';
import { createLogger, LOG_FORMATS, LOG_LEVELS, type LogFormat } from '../logging/logger.ts';
import { createMetricsRegistry } from '../metrics/registry.ts';
import { describeProxySettings, resolveProxySettings } from '../connector/proxy-settings.ts';
import { DEFAULT_STATE_DIR, registrationFromOptions, say } from './connector-commands.ts';
import { flagOption, listOption, stringOption, type OptionValues } from './usage.ts';

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

/** Runs `register`, `run` or `status`; the exit code. */
export async function runConnectorCommand(command: string, values: OptionValues, usageError: (message: string) => number): Promise<number> {
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
      if (!(LOG_LEVELS as readonly string[]).includes(level)) return usageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
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
