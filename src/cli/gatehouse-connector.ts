#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { serviceCommand } from './connector-service.ts';
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

const DEFAULT_STATE_DIR = '/var/lib/gatehouse-connector';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const USAGE = `Usage:
  gatehouse-connector register --service URL [--token TOKEN] [--state-dir DIR] [--ca-file FILE]
                               [--idp-ca-file FILE] [--group GROUP] [--name NAME] [--force]
                               [--allow TARGET]... [--key-type ec|rsa]
  gatehouse-connector run [--state-dir DIR] [--tunnels N] [--transport tls|websocket] [--log-level LEVEL] [--log-format json|pretty]
                          [--allow TARGET]... [--metrics-address HOST:PORT]
  gatehouse-connector status [--state-dir DIR] [--json]
  gatehouse-connector service install|uninstall|status ...   (as a systemd service: service --help)

Commands:
  register  get a client certificate from the Gatehouse service. Without --token, prints a URL
            and a code for an administrator to sign in with (OAuth device flow) and waits.
  run       connect to the service with that certificate, keep the configuration current and
            renew the certificate when due; stops cleanly on SIGTERM or SIGINT
  status    show the connector's id, group, certificate and whether the service accepts it

Options:
      --service URL        the service's connector address, e.g. https://gatehouse.example.com:8444
      --token TOKEN        an administrator's access token for the service (else the device flow;
                           GATEHOUSE_CONNECTOR_TOKEN keeps it out of the process list)
      --state-dir DIR      where the key, certificate and registration live
                           (default: $GATEHOUSE_CONNECTOR_STATE_DIR, else ${DEFAULT_STATE_DIR})
      --ca-file FILE       CA certificates (PEM) that sign the service's TLS certificate,
                           if not a public CA; kept in the state directory for run and status
      --idp-ca-file FILE   CA certificates (PEM) for the identity provider
                           (default: the --ca-file ones plus the system's)
      --group GROUP        connector group to join (default: the service's "default")
      --name NAME          a label for administrators (default: this host's name)
      --force              replace an existing registration in the state directory
      --key-type TYPE      register: the connector's key, ec (P-256, the default) or rsa (3072 bits);
                           renewals keep the type
      --allow TARGET       register, run: dial only these targets, whatever the service configures:
                           a CIDR or address (10.0.0.0/8, 10.0.0.5, [fd00::/8]) or a host name
                           (wiki.corp, matched exactly), each optionally with :PORT; repeatable.
                           Kept in the state directory (allow-list.json) and shown by status;
                           without it the connector dials any internal URL the service names
      --json               status as JSON
      --tunnels N          run: tunnels kept open to each gateway instance (default: 2)
      --transport KIND     run: tls (HTTP/2 over TLS, the default) or websocket, for networks
                           whose proxies pass only WebSocket
      --log-level LEVEL    run: fatal, error, warn, info, debug, trace, silent (default: info)
      --log-format FMT     run: json (one object a line) or pretty (for people) (default: json)
      --metrics-address HOST:PORT
                           run: serve /healthz, /ready and /metrics (Prometheus) on this
                           address, e.g. 127.0.0.1:9101; no authentication: keep it private
  -h, --help               show this help

Output: run writes JSON log lines on stdout and short progress lines on stderr.
Exit codes: 0 done, 1 failed (the message says why and what to do), 2 usage error.
`;

const OPTIONS_BY_COMMAND: Readonly<Record<string, readonly string[]>> = {
  register: ['service', 'token', 'state-dir', 'ca-file', 'idp-ca-file', 'group', 'name', 'force', 'allow', 'key-type'],
  run: ['state-dir', 'log-level', 'log-format', 'tunnels', 'transport', 'allow', 'metrics-address'],
  status: ['state-dir', 'json'],
};

const say = (line: string): void => {
  process.stderr.write(`gatehouse-connector: ${line}\n`);
};

function usageError(message: string): number {
  process.stderr.write(`gatehouse-connector: ${message}\n\n${USAGE}`);
  return 2;
}

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
  // Its own options and usage: src/cli/connector-service.ts.
  if (argv[0] === 'service') return serviceCommand(argv.slice(1));
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        service: { type: 'string' },
        token: { type: 'string' },
        'state-dir': { type: 'string' },
        'ca-file': { type: 'string' },
        'idp-ca-file': { type: 'string' },
        group: { type: 'string' },
        name: { type: 'string' },
        force: { type: 'boolean' },
        json: { type: 'boolean' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        tunnels: { type: 'string' },
        transport: { type: 'string' },
        allow: { type: 'string', multiple: true },
        'metrics-address': { type: 'string' },
        'key-type': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    return usageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command === undefined) return usageError('a command is required');
  const allowed = OPTIONS_BY_COMMAND[command];
  if (allowed === undefined) return usageError(`unknown command "${command}"`);
  if (positionals.length > 1) return usageError(`unexpected argument "${positionals[1]}"`);
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && !allowed.includes(name)) return usageError(`--${name} does not apply to ${command}`);
  }
  const stateDir = values['state-dir'] ?? process.env['GATEHOUSE_CONNECTOR_STATE_DIR'] ?? DEFAULT_STATE_DIR;
  if (stateDir === '') return usageError('--state-dir must not be empty');

  switch (command) {
    case 'register': {
      if (values.service === undefined) return usageError('register: --service URL is required');
      const keyType = values['key-type'];
      if (keyType !== undefined && keyType !== 'ec' && keyType !== 'rsa') return usageError('--key-type must be ec or rsa');
      const envToken = process.env['GATEHOUSE_CONNECTOR_TOKEN'];
      const token = values.token ?? (envToken === undefined || envToken === '' ? undefined : envToken);
      const stop = stopOnSignals();
      try {
        const summary = await registerConnector({
          serviceUrl: values.service,
          stateDir,
          progress: say,
          signal: stop.signal,
          force: values.force === true,
          ...(token !== undefined ? { token } : {}),
          ...(values['ca-file'] !== undefined ? { caFile: values['ca-file'] } : {}),
          ...(values['idp-ca-file'] !== undefined ? { idpCaFile: values['idp-ca-file'] } : {}),
          ...(values.group !== undefined ? { group: values.group } : {}),
          ...(values.name !== undefined ? { name: values.name } : {}),
          ...(values.allow !== undefined ? { allow: values.allow } : {}),
          ...(keyType !== undefined ? { keyType } : {}),
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
      const level = values['log-level'] ?? 'info';
      if (!LOG_LEVELS.includes(level)) return usageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
      const format = values['log-format'] ?? 'json';
      if (!(LOG_FORMATS as readonly string[]).includes(format)) return usageError(`--log-format must be one of ${LOG_FORMATS.join(', ')}`);
      const tunnels = values.tunnels === undefined ? TUNNELS_PER_CONNECTOR : Number(values.tunnels);
      if (!Number.isInteger(tunnels) || tunnels < 1 || tunnels > MAX_TUNNELS_PER_CONNECTOR) {
        return usageError(`--tunnels must be a whole number from 1 to ${MAX_TUNNELS_PER_CONNECTOR}`);
      }
      const transport = values.transport ?? 'tls';
      if (transport !== 'tls' && transport !== 'websocket') return usageError('--transport must be tls or websocket');
      const metricsAddress = values['metrics-address'] === undefined ? undefined : parseListenAddress(values['metrics-address']);
      if (typeof metricsAddress === 'string') return usageError(`--metrics-address: ${metricsAddress}`);
      const log = createLogger({ level, format: format as LogFormat, destination: process.stdout }).child({ component: 'connector' });
      // The connector's metrics and events, for the metrics address to serve.
      const metrics = createMetricsRegistry();
      const events = new ConnectorEvents();
      const health = metricsAddress ? createConnectorHealthServer({ events, metrics }) : undefined;
      if (health && metricsAddress) {
        const bound = await health.listen(metricsAddress.port, metricsAddress.host);
        say(`metrics and health on http://${formatListenAddress({ host: bound.address, port: bound.port })} (/healthz, /ready, /metrics)`);
      }
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
          ...(values.allow !== undefined ? { allow: values.allow } : {}),
        });
        say('stopped');
        return 0;
      } finally {
        stop.remove();
        await health?.close();
      }
    }
    default: {
      const status = await connectorStatus({ stateDir });
      process.stdout.write(values.json ? `${JSON.stringify(status, null, 2)}\n` : formatConnectorStatus(status));
      return status.service.accepted ? 0 : 1;
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConnectorArgumentError) {
      say(`${error.message} (see gatehouse-connector --help)`);
      process.exitCode = 2;
      return;
    }
    // Operator-facing text only: a ConnectorError's message says what to do; no stack traces.
    const prefix = error instanceof ConnectorError ? `${error.code}: ` : '';
    say(`${prefix}${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
