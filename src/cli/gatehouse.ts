#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { startProblems } from '../config/start-problems.ts';
import { GatehouseConfigError, GatehouseError } from '../errors/index.ts';
import { createLogger, LOG_FORMATS, LOG_LEVELS, type LogFormat } from '../logging/logger.ts';
import { createGatewayServer } from '../gateway/standalone-server.ts';
import { formatListenAddress } from '../health/listen-address.ts';
import { readServeConfig, reloadSummary } from '../gateway/reload-file.ts';
import { CaError } from '../pki/errors.ts';
import { AssertionKeyRingError } from '../forwarding/assertion-keys.ts';
import { StoreError } from '../store/store-error.ts';
import { runCheck } from './check-command.ts';

const USAGE = `Usage:
  gatehouse serve --config FILE [--host HOST] [--port PORT] [--log-level LEVEL] [--log-format json|pretty]
  gatehouse check --config FILE [--strict] [--online]

Commands:
  serve   run the cloud side (robots denier, sign-in, session gate, forwarding) from a YAML or JSON config
  check   validate a config file, and what serve would read and write (files, keys, certificates, folders),
          without starting anything: exit 0 valid (warnings printed), 1 invalid (or warnings with --strict)

Options:
  -c, --config FILE      configuration file (.yaml, .yml or .json)
      --host HOST        listen address (default: server.host, else 0.0.0.0)
      --port PORT        listen port (default: server.port, else 8443)
      --strict           check: treat warnings (e.g. a pass-through app sharing a protected app's backend) as errors
      --online           check: also run discovery against the identity provider and print what it found
      --log-level LEVEL  pino level: fatal, error, warn, info, debug, trace, silent (default: logging.level, else info)
      --log-format FMT   json (one object a line) or pretty (for people) (default: logging.format, else json)
  -h, --help             show this help

Environment:
  GATEHOUSE_CONFIG       the configuration file when --config is not given
  \${VAR}, \${VAR:-default}  in the file's string values: taken from the environment ($\${ for a literal \${)
  GATEHOUSE_STORE_URL    where state is kept, instead of the file's store.url: sqlite:<path> or memory:
                         (a relative path is read from the working directory)
  GATEHOUSE_CA_KEY       keys that encrypt the connector CA's private key in the store, instead of the
                         file's connectors.caKeyFile: base64 of 32 random bytes ("openssl rand -base64 32"),
                         optionally "id:" first; current key first, previous ones after, separated by commas
`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        host: { type: 'string' },
        port: { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        strict: { type: 'boolean', default: false },
        online: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    process.stderr.write(`gatehouse: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || command === undefined) {
    process.stdout.write(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (command !== 'serve' && command !== 'check') {
    process.stderr.write(`gatehouse: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  const configFile = values.config ?? (process.env['GATEHOUSE_CONFIG'] || undefined);
  if (configFile === undefined) {
    process.stderr.write(`gatehouse ${command}: --config FILE (or GATEHOUSE_CONFIG) is required\n`);
    return 2;
  }

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
  if (command === 'check') return runCheck(config, { file: configFile, strict: values.strict, online: values.online });
  // The same list check prints: a folder or audit setting start cannot use is named by its key, before anything opens.
  const startRefused = startProblems(config);
  if (startRefused.length > 0) {
    process.stderr.write(`gatehouse: ${new GatehouseConfigError(startRefused).message}\n`);
    return 1;
  }

  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      process.stderr.write(`gatehouse serve: --port must be a number from 0 to 65535\n`);
      return 2;
    }
  }
  const level = values['log-level'] ?? config.logging.level;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    process.stderr.write(`gatehouse serve: --log-level must be one of ${LOG_LEVELS.join(', ')}\n`);
    return 2;
  }
  const format = values['log-format'] ?? config.logging.format;
  if (!(LOG_FORMATS as readonly string[]).includes(format)) {
    process.stderr.write(`gatehouse serve: --log-format must be one of ${LOG_FORMATS.join(', ')}\n`);
    return 2;
  }
  const logger = createLogger({ level, format: format as LogFormat, destination: process.stdout });
  // The file again, through the same loader and checks as at start; the running configuration stays when it is refused.
  const service = createGatewayServer(config, {
    logger,
    configSource: () => readServeConfig(configFile),
    onReload: (result) => process.stderr.write(reloadSummary(configFile, result)),
  });
  let address;
  try {
    address = await service.listen(port, values.host);
  } catch (error) {
    // A CA key that does not open the stored CA is an operator's mistake: one line that says which, not a stack trace.
    if (!(error instanceof CaError)) throw error;
    process.stderr.write(`gatehouse: ${error.code}: ${error.message}\n`);
    await service.close();
    return 1;
  }
  const scheme = config.server.tls ? 'https' : 'http';
  logger.info({ address: address.address, port: address.port, scheme }, 'gateway listening');
  // Progress for people goes to stderr; stdout carries only JSON lines (audit events and logs).
  process.stderr.write(`gatehouse: listening on ${scheme}://${address.address}:${address.port}\n`);
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
  service.gateway.ready().then(
    () => process.stderr.write(`gatehouse: identity provider ${config.identityProvider.issuer} discovered\n`),
    (error: unknown) => {
      if (error instanceof StoreError || error instanceof AssertionKeyRingError) {
        startFailed?.(error);
        return;
      }
      const reason = error instanceof GatehouseError ? error.reason : String(error);
      process.stderr.write(`gatehouse: identity provider not reachable yet (${reason}); sign-ins will retry\n`);
    },
  );

  // SIGHUP: reopen the audit file (log rotation) and reload the configuration file.
  process.on('SIGHUP', () => {
    service.gateway.reopenAuditFile().catch((error: unknown) => logger.error({ err: error }, 'could not reopen the audit file'));
    void service.reloadFromSource({ source: 'signal' });
  });
  let stopping = false;
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
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
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

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`gatehouse: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
