/** The commands and options of `gatehouse`, from which its help and its parsing come (src/cli/usage.ts). */
import { ADMIN_COMMANDS } from './admin-commands.ts';
import type { CliOption, CliProgram } from './usage.ts';

const config: CliOption = { type: 'string', short: 'c', value: 'FILE', help: 'configuration file (.yaml, .yml or .json); default: $GATEHOUSE_CONFIG' };

const CONFIG_ENVIRONMENT = `Environment:
  GATEHOUSE_CONFIG         the configuration file when --config is not given
  \${VAR}, \${VAR:-default}  in the file's string values: taken from the environment ($\${ for a literal \${)
  GATEHOUSE_STORE_URL      where state is kept, instead of the file's store.url: sqlite:<path> or memory:
                           (a relative path is read from the working directory)
  GATEHOUSE_CA_KEY         keys that encrypt the connector CA's private key in the store, instead of the
                           file's connectors.caKeyFile: base64 of 32 random bytes ("openssl rand -base64 32"),
                           optionally "id:" first; current key first, previous ones after, separated by commas`;

export const GATEHOUSE_PROGRAM: CliProgram = {
  name: 'gatehouse',
  summary: 'the cloud side of Gatehouse: sign-in, conditional access and forwarding to your apps',
  notes: 'Progress and errors go to stderr; stdout carries JSON log lines (serve), the verdict (check) or the answer (admin).',
  commands: [
    {
      name: 'serve',
      summary: 'run the gateway (sign-in, session gate, forwarding, connector listener) from a YAML or JSON config',
      synopsis: '--config FILE [--host HOST] [--port PORT] [--connector-host HOST] [--workers N|auto] [--log-level LEVEL] [--log-format json|pretty]',
      options: {
        config,
        host: { type: 'string', value: 'HOST', help: 'listen address of the gateway (default: server.host, else 0.0.0.0)' },
        port: { type: 'string', value: 'PORT', help: 'listen port of the gateway (default: server.port, else 8443)' },
        'connector-host': {
          type: 'string',
          value: 'HOST',
          help: 'listen address of the connector listener (default: connectors.listen.host, else 0.0.0.0; --host does not move it)',
        },
        'log-level': { type: 'string', value: 'LEVEL', help: 'fatal, error, warn, info, debug, trace or silent (default: logging.level, else info)' },
        'log-format': { type: 'string', value: 'FMT', help: 'json (one object a line) or pretty (for people) (default: logging.format, else json)' },
        workers: {
          type: 'string',
          value: 'N',
          help: 'worker processes sharing the port, each a gateway instance with connector and admin ports + 0..N-1; "auto": one per core (default 1; more need a Redis store)',
        },
      },
      examples: [
        'gatehouse serve --config /etc/gatehouse/gatehouse.yaml --log-format pretty',
        'gatehouse serve --config /etc/gatehouse/gatehouse.yaml --workers auto',
      ],
      notes: `Output: JSON log lines on stdout; progress (the address of each listener, reloads, shutdown) on stderr.
Signals: SIGHUP reloads the file and reopens the audit file; SIGTERM or SIGINT stop gracefully (a second one at once).
With --workers, send them to the primary: it passes them on to every worker and starts a worker that died again.

${CONFIG_ENVIRONMENT}`,
    },
    {
      name: 'check',
      summary: 'validate a config file and what serve would read (files, keys, certificates, folders) without starting anything',
      synopsis: '--config FILE [--strict] [--online]',
      options: {
        config,
        strict: { type: 'boolean', help: 'treat warnings (e.g. a pass-through app sharing a protected app’s backend) as errors' },
        online: { type: 'boolean', help: 'also run discovery against the identity provider and print what it found' },
      },
      examples: ['gatehouse check --config gatehouse.yaml --strict --online'],
      notes: `Output: the verdict on stdout; problems and warnings on stderr.
Exit codes: 0 valid (warnings printed), 1 invalid (or warnings with --strict), 2 usage error.

${CONFIG_ENVIRONMENT}`,
    },
    ...ADMIN_COMMANDS,
  ],
};
