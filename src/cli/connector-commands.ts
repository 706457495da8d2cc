/** The commands and options of `gatehouse-connector`, from which its help and its parsing come (src/cli/usage.ts). */
import { CONNECTOR_SERVICE } from '../connector/service-install/unit.ts';
import type { InstallRegistration } from '../connector/service-install/plan.ts';
import { flagOption, listOption, stringOption, type CliCommand, type CliOption, type CliProgram, type OptionValues } from './usage.ts';

export const DEFAULT_STATE_DIR = '/var/lib/gatehouse-connector';

const stateDir: CliOption = {
  type: 'string',
  value: 'DIR',
  help: `where the key, certificate and registration live (default: $GATEHOUSE_CONNECTOR_STATE_DIR, else ${DEFAULT_STATE_DIR})`,
};
const allow: CliOption = {
  type: 'string',
  multiple: true,
  value: 'TARGET',
  help: 'dial only these targets, whatever the service configures: a CIDR, an address or a host name, each optionally :PORT; repeatable',
};
const root: CliOption = {
  type: 'string',
  value: 'DIR',
  help: 'work under DIR (DIR/etc/systemd/system, DIR/var/lib/…): files only, no user, no systemctl, no root needed',
};
const proxy: CliOption = {
  type: 'string',
  value: 'URL',
  help: 'reach the service (and the identity provider) through this HTTP CONNECT proxy, e.g. http://user:password@proxy.corp:3128, or none for direct; default $HTTPS_PROXY, minus the hosts in $NO_PROXY',
};
const dryRun: CliOption = { type: 'boolean', help: 'print every step, file and command, and change nothing' };

/** What register and service install both take to register. */
export const REGISTRATION_OPTIONS: Readonly<Record<string, CliOption>> = {
  service: { type: 'string', value: 'URL', help: "the service's connector address, e.g. https://gatehouse.example.com:8444" },
  token: {
    type: 'string',
    value: 'TOKEN',
    help: "an administrator's access token (else the device flow; $GATEHOUSE_CONNECTOR_TOKEN keeps it out of the process list)",
  },
  'ca-file': {
    type: 'string',
    value: 'FILE',
    help: "CA certificates (PEM) that sign the service's TLS certificate, if not a public CA; kept for run and status",
  },
  'idp-ca-file': { type: 'string', value: 'FILE', help: 'CA certificates (PEM) for the identity provider (default: the --ca-file ones plus the system’s)' },
  resource: {
    type: 'string',
    value: 'URL',
    help: 'the RFC 8707 resource the device flow asks for, or none to send no resource (default: what the service says)',
  },
  group: { type: 'string', value: 'GROUP', help: 'connector group to join (default: the service’s "default")' },
  name: { type: 'string', value: 'NAME', help: "a label for administrators (default: this host's name)" },
  force: { type: 'boolean', help: 'replace an existing registration in the state directory' },
  'key-type': { type: 'string', value: 'TYPE', help: "the connector's key: ec (P-256, the default) or rsa (3072 bits); renewals keep the type" },
  allow: { ...allow, help: `${allow.help}; kept in the state directory and shown by status` },
};

const SERVICE_COMMANDS: readonly CliCommand[] = [
  {
    name: 'service install',
    summary: `as root: create the user ${CONNECTOR_SERVICE.user} and the state directory, register, write and start the systemd unit`,
    synopsis: '--service URL [--token TOKEN] [register options…] [--bin PATH] [--root DIR] [--dry-run]',
    options: {
      ...REGISTRATION_OPTIONS,
      bin: {
        type: 'string',
        value: 'PATH',
        help: `the gatehouse-connector the unit runs (default: the one on PATH, else ${CONNECTOR_SERVICE.defaultExecPath})`,
      },
      proxy,
      root,
      'dry-run': dryRun,
    },
    examples: [
      'sudo gatehouse-connector service install --service https://gatehouse.example.com:8444 --group datacenter-1',
      'gatehouse-connector service install --service https://gatehouse.example.com:8444 --dry-run',
    ],
    notes: `Registers in ${CONNECTOR_SERVICE.stateDir} (the token is used once, never stored), writes ${CONNECTOR_SERVICE.unitPath},
then systemctl daemon-reload and enable --now. Run again, it keeps the registration and rewrites the unit only if it changed.
--proxy (or $HTTPS_PROXY) is used to register; the service itself reads HTTPS_PROXY and NO_PROXY from ${CONNECTOR_SERVICE.envFile}.`,
  },
  {
    name: 'service uninstall',
    summary: 'stop, disable and remove the unit; --purge also removes the state, the settings and the user',
    synopsis: '[--purge] [--root DIR] [--dry-run]',
    options: {
      purge: { type: 'boolean', help: `also remove ${CONNECTOR_SERVICE.stateDir} (the private key), ${CONNECTOR_SERVICE.configDir} and the user` },
      root,
      'dry-run': dryRun,
    },
    examples: ['sudo gatehouse-connector service uninstall --purge'],
    notes: 'Revoke the connector on the service first.',
  },
  {
    name: 'service status',
    summary: 'whether the unit is installed, the connector registered and the service running',
    synopsis: '[--root DIR]',
    options: { root },
    examples: ['gatehouse-connector service status'],
  },
];

export const CONNECTOR_PROGRAM: CliProgram = {
  name: 'gatehouse-connector',
  summary: 'the connector: dials out to the Gatehouse service and carries its requests to internal apps',
  notes: 'Progress and errors go to stderr; stdout carries JSON log lines (run), the summary (register) or the status.',
  commands: [
    {
      name: 'register',
      summary: 'get a client certificate from the service (without --token: a device-flow sign-in by an administrator)',
      synopsis: '--service URL [--token TOKEN] [--state-dir DIR] [--ca-file FILE] [--group GROUP] [--key-type ec|rsa] [--allow TARGET]… [--proxy URL]',
      options: { ...REGISTRATION_OPTIONS, 'state-dir': stateDir, proxy },
      examples: ['gatehouse-connector register --service https://gatehouse.example.com:8444 --group datacenter-1 --state-dir ./state'],
    },
    {
      name: 'run',
      summary: 'connect with that certificate, keep the configuration current and renew the certificate when due',
      synopsis: '[--state-dir DIR] [--tunnels N] [--transport tls|websocket] [--proxy URL] [--metrics-address HOST:PORT] [--log-level LEVEL]',
      options: {
        'state-dir': stateDir,
        tunnels: { type: 'string', value: 'N', help: 'tunnels kept open to each gateway instance (default: 2)' },
        transport: { type: 'string', value: 'KIND', help: 'tls (HTTP/2 over TLS, the default) or websocket, for networks whose proxies pass only WebSocket' },
        allow: { ...allow, help: `${allow.help}; replaces the registered list and is kept` },
        proxy,
        'metrics-address': {
          type: 'string',
          value: 'HOST:PORT',
          help: 'serve /healthz, /ready and /metrics (Prometheus) here, e.g. 127.0.0.1:9101; no authentication: keep it private',
        },
        'log-level': { type: 'string', value: 'LEVEL', help: 'fatal, error, warn, info, debug, trace or silent (default: info)' },
        'log-format': { type: 'string', value: 'FMT', help: 'json (one object a line) or pretty (for people) (default: json)' },
      },
      examples: ['gatehouse-connector run --state-dir ./state --metrics-address 127.0.0.1:9101'],
      notes: 'Output: JSON log lines on stdout, progress on stderr. SIGTERM or SIGINT stop cleanly (streams in flight finish; a second one at once).',
    },
    {
      name: 'status',
      summary: "show the connector's id, group, certificate and whether the service accepts it",
      synopsis: '[--state-dir DIR] [--json]',
      options: { 'state-dir': stateDir, json: { type: 'boolean', help: 'print the status as JSON' } },
      examples: ['gatehouse-connector status --state-dir ./state --json'],
      notes: 'Exit codes: 0 the service accepts the connector, 1 it does not (or cannot be reached), 2 usage error.',
    },
    ...SERVICE_COMMANDS,
  ],
};

/** register's and service install's options as registerConnector() takes them, less the state directory; a string is a usage error. */
export function registrationFromOptions(values: OptionValues): InstallRegistration | string {
  const serviceUrl = stringOption(values, 'service');
  if (serviceUrl === undefined) return '--service URL is required';
  const keyType = stringOption(values, 'key-type');
  if (keyType !== undefined && keyType !== 'ec' && keyType !== 'rsa') return `--key-type must be ec or rsa, not "${keyType}"`;
  const envToken = process.env['GATEHOUSE_CONNECTOR_TOKEN'];
  const token = stringOption(values, 'token') ?? (envToken === undefined || envToken === '' ? undefined : envToken);
  const resourceText = stringOption(values, 'resource');
  if (resourceText !== undefined && resourceText.trim() === '') return '--resource must be a URL or none';
  const optional = {
    token,
    caFile: stringOption(values, 'ca-file'),
    idpCaFile: stringOption(values, 'idp-ca-file'),
    group: stringOption(values, 'group'),
    name: stringOption(values, 'name'),
    allow: listOption(values, 'allow'),
    keyType,
    resource: resourceText === undefined ? undefined : resourceText === 'none' ? false : resourceText,
  };
  // exactOptionalPropertyTypes: an option not given is left out, not set to undefined.
  const given = Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined)) as Omit<InstallRegistration, 'serviceUrl' | 'force'>;
  return { serviceUrl, force: flagOption(values, 'force'), ...given };
}

/** One line for the operator on stderr, prefixed with the program's name. */
export const say = (line: string): void => {
  process.stderr.write(`gatehouse-connector: ${line}\n`);
};
