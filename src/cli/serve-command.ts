/**
 * `gatehouse serve` and `gatehouse check`: everything that reads a
 * configuration file and runs the gateway. Loaded only for these commands,
 * so that --help, --version, a usage mistake and the admin commands answer
 * without loading the service.
 */
import { startProblems } from '../config/start-problems.ts';
import { GatehouseConfigError, GatehouseError } from '../errors/index.ts';
import { createLogger, LOG_FORMATS, LOG_LEVELS, type LogFormat } from '../logging/logger.ts';
import { createGatewayServer } from '../gateway/standalone-server.ts';
import { formatListenAddress } from '../health/listen-address.ts';
import { readServeConfig, reloadSummary } from '../gateway/reload-file.ts';
import { CaError } from '../pki/errors.ts';
import { AssertionKeyRingError } from '../forwarding/assertion-keys.ts';
import { StoreError } from '../store/store-error.ts';
import type { GatewayConfig } from '../config/parse.ts';
import cluster from 'node:cluster';
import { runCheck } from './check-command.ts';
import { isWorkerMessage, runPrimary, WORKER_ENV } from './serve-primary.ts';
import { parseWorkers, workerConfig, workersProblems } from './serve-workers-config.ts';
import { flagOption, stringOption, type OptionValues } from './usage.ts';

/** Runs `serve` (or one of its workers) or `check` on `configFile`; the exit code. */
export async function runServeCommand(command: string, values: OptionValues, configFile: string, usageError: (message: string) => number): Promise<number> {
  let config;
  try {
    config = readServeConfig(configFile);
  } catch (error) {
    if (error instanceof GatehouseConfigError) {
      process.stderr.write(`gatehouse: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  if (command === 'check') {
    return runCheck(config, { file: configFile, strict: flagOption(values, 'strict'), online: flagOption(values, 'online') });
  }
  // The same list check prints: a folder or audit setting start cannot use is named by its key, before anything opens.
  const startRefused = startProblems(config);
  if (startRefused.length > 0) {
    process.stderr.write(`gatehouse: ${new GatehouseConfigError(startRefused).message}\n`);
    return 1;
  }

  let port: number | undefined;
  const portText = stringOption(values, 'port');
  if (portText !== undefined) {
    port = Number(portText);
    if (portText.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65535)
      return usageError(`--port must be a number from 0 to 65535, not "${portText}"`);
  }
  const level = stringOption(values, 'log-level') ?? config.logging.level;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) return usageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not "${level}"`);
  const format = stringOption(values, 'log-format') ?? config.logging.format;
  if (!(LOG_FORMATS as readonly string[]).includes(format)) return usageError(`--log-format must be one of ${LOG_FORMATS.join(', ')}, not "${format}"`);
  const connectorHost = stringOption(values, 'connector-host');
  if (connectorHost !== undefined && !config.connectors)
    return usageError('--connector-host: the configuration has no connectors section, so no connector listener');
  if (connectorHost === '') return usageError('--connector-host must not be empty');
  const workersText = stringOption(values, 'workers');
  const workers = workersText === undefined ? 1 : parseWorkers(workersText);
  if (workers === undefined) return usageError(`--workers must be a number from 1 to 1024 or "auto", not "${workersText ?? ''}"`);
  if (workers > 1 && cluster.isPrimary) {
    const refused = workersProblems(config, workers);
    if (refused.length > 0) {
      process.stderr.write(`gatehouse: ${new GatehouseConfigError(refused).message}\n`);
      return 1;
    }
    return runPrimary(workers);
  }
  // A worker of `--workers N`: its own connector and admin ports, and its number on every log line.
  const worker = cluster.isWorker ? Number(process.env[WORKER_ENV]) : undefined;
  // The flag wins over the file at start and at every reload alike, so that a reload does not see it as a change of connectors.listen.
  const withHost = (loaded: GatewayConfig): GatewayConfig =>
    connectorHost === undefined || !loaded.connectors
      ? loaded
      : Object.freeze({
          ...loaded,
          connectors: Object.freeze({ ...loaded.connectors, listen: Object.freeze({ ...loaded.connectors.listen, host: connectorHost }) }),
        });
  const withFlags = (loaded: GatewayConfig): GatewayConfig => (worker === undefined ? withHost(loaded) : workerConfig(withHost(loaded), worker));
  const rootLogger = createLogger({ level, format: format as LogFormat, destination: process.stdout });
  const logger = worker === undefined ? rootLogger : rootLogger.child({ worker });
  // The primary's stop or reload; a stop that comes while already stopping is the same request, not a second one.
  let stopRequest: ((signal: string) => void) | undefined;
  let pendingStop: string | undefined;
  let stopping = false;
  const requestStop = (signal: string): void => {
    if (stopRequest) stopRequest(signal);
    else pendingStop ??= signal;
  };
  // From the start: a stop before the gateway is up is kept and carried out once it is.
  process.on('SIGINT', () => requestStop('SIGINT'));
  process.on('SIGTERM', () => requestStop('SIGTERM'));
  if (worker !== undefined) {
    process.on('message', (message: unknown) => {
      if (!isWorkerMessage(message)) return;
      if (message.gatehouse === 'reload') process.emit('SIGHUP', 'SIGHUP');
      else if (message.gatehouse === 'stop' && !stopping) requestStop(message.signal);
    });
    // A primary that is gone (killed) closes the channel, and node:cluster ends the worker then: none outlives it.
  }
  // The file again, through the same loader and checks as at start; the running configuration stays when it is refused.
  const service = createGatewayServer(withFlags(config), {
    logger,
    configSource: () => withFlags(readServeConfig(configFile)),
    onReload: (result) => process.stderr.write(reloadSummary(configFile, result)),
  });
  let address;
  try {
    address = await service.listen(port, stringOption(values, 'host'));
  } catch (error) {
    // A CA key that does not open the stored CA is an operator's mistake: one line that says which, not a stack trace.
    if (!(error instanceof CaError)) throw error;
    process.stderr.write(`gatehouse: ${error.code}: ${error.message}\n`);
    await service.close();
    return 1;
  }
  // Every signal handler is in place before the lines that say the gateway is up: whoever waits for them may signal at once.
  // SIGHUP: reopen the audit file (log rotation) and reload the configuration file.
  process.on('SIGHUP', () => {
    service.gateway.reopenAuditFile().catch((error: unknown) => logger.error({ err: error }, 'could not reopen the audit file'));
    void service.reloadFromSource({ source: 'signal' });
  });
  const scheme = config.server.tls ? 'https' : 'http';
  logger.info({ address: address.address, port: address.port, scheme }, 'gateway listening');
  // Progress for people goes to stderr; stdout carries only JSON lines (audit events and logs).
  process.stderr.write(`gatehouse: listening on ${scheme}://${address.address}:${address.port}\n`);
  const connectors = service.gateway.connectors?.address();
  if (connectors) {
    logger.info({ address: connectors.address, port: connectors.port }, 'connector listener listening');
    process.stderr.write(`gatehouse: connector listener on https://${formatListenAddress({ host: connectors.address, port: connectors.port })}\n`);
  }
  const admin = service.admin?.address();
  if (admin) {
    const adminUrl = `${config.admin?.tls ? 'https' : 'http'}://${formatListenAddress({ host: admin.address, port: admin.port })}`;
    logger.info({ address: admin.address, port: admin.port }, 'admin listener listening');
    process.stderr.write(`gatehouse: admin listener on ${adminUrl} (/.gatehouse/healthz, /.gatehouse/readyz, /metrics, POST /.gatehouse/admin/reload)\n`);
  }
  for (const app of config.apps) {
    process.stderr.write(`gatehouse:   ${app.id}  ${app.externalUrl}  (${app.preauth})\n`);
  }
  // A store that cannot be reached, or holds assertion keys this version cannot read, stops the gateway (nothing could be checked or
  // signed safely); an identity provider not yet reachable does not.
  let startFailed: ((error: StoreError | AssertionKeyRingError) => void) | undefined;
  // A worker has started once its store answered: one that dies before keeps the primary from starting it forever.
  const started = (): void => void (worker !== undefined && process.send?.({ gatehouse: 'started' }));
  service.gateway.ready().then(
    () => {
      started();
      process.stderr.write(`gatehouse: identity provider ${config.identityProvider.issuer} discovered\n`);
    },
    (error: unknown) => {
      if (error instanceof StoreError || error instanceof AssertionKeyRingError) {
        startFailed?.(error);
        return;
      }
      started();
      const reason = error instanceof GatehouseError ? error.reason : String(error);
      process.stderr.write(`gatehouse: identity provider not reachable yet (${reason}); sign-ins will retry\n`);
    },
  );

  const code = await new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      // A second signal is an operator who will not wait: stop now.
      if (stopping) {
        process.stderr.write(`gatehouse: ${signal} again, exiting now without waiting for requests in flight\n`);
        process.exit(1);
      }
      stopping = true;
      process.stderr.write(`gatehouse: ${signal}, shutting down\n`);
      resolve(0);
    };
    stopRequest = stop;
    if (pendingStop !== undefined) stop(pendingStop);
    startFailed = (error) => {
      stopping = true;
      process.stderr.write(`gatehouse: ${error.code}: ${error.message}\n`);
      resolve(1);
    };
  });
  await service.close({
    onStart: ({ requests, webSockets, timeoutMs }) =>
      process.stderr.write(
        `gatehouse: shutting down: ${requests} request${requests === 1 ? '' : 's'}${webSockets > 0 ? ` and ${webSockets} WebSocket${webSockets === 1 ? '' : 's'}` : ''} in flight, waiting up to ${timeoutMs / 1000} s\n`,
      ),
    onDeadline: (cut) => process.stderr.write(`gatehouse: deadline reached: ${cut} still in flight, cut\n`),
  });
  process.stderr.write('gatehouse: stopped\n');
  return code;
}
