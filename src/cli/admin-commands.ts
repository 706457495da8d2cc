/** The `gatehouse admin …` commands: the admin API on the connector listener, from a script or a terminal. */
import type { CliCommand, CliOption } from './usage.ts';

const common: Readonly<Record<string, CliOption>> = {
  service: { type: 'string', value: 'URL', help: "the service's connector address, e.g. https://gatehouse.example.com:8444" },
  'ca-file': { type: 'string', value: 'FILE', help: "CA certificates (PEM) that sign the service's TLS certificate, if not a public CA" },
  json: { type: 'boolean', help: 'print the API answer as JSON (for scripts) instead of a table' },
};
const COMMON = '--service URL [--ca-file FILE] [--json]';
const group = (help: string): CliOption => ({ type: 'string', multiple: true, value: 'GROUP', help });

const NOTES = `Environment:
  GATEHOUSE_ADMIN_TOKEN    an administrator's access token from the identity provider (never given on the command line)
Output: a table on stdout, or the API's JSON with --json; errors as one line on stderr.
Exit codes: 0 done, 1 failed (the service cannot be reached or refused the call), 2 usage error,
3 the token was refused (missing, expired, not an administrator's: 401 or 403).`;

const SERVICE = 'https://gatehouse.example.com:8444';

export const ADMIN_COMMANDS: readonly CliCommand[] = [
  {
    name: 'admin connectors revoke',
    summary: 'revoke a connector: its certificate is refused and its tunnels close',
    synopsis: `ID ${COMMON}`,
    options: common,
    examples: [`gatehouse admin connectors revoke 6f1c2e9a-… --service ${SERVICE}`],
    notes: NOTES,
  },
  {
    name: 'admin connectors move',
    summary: 'move a connector to another connector group',
    synopsis: `ID --group GROUP ${COMMON}`,
    options: { ...common, group: group('the group to move it to') },
    examples: [`gatehouse admin connectors move 6f1c2e9a-… --group office --service ${SERVICE}`],
    notes: NOTES,
  },
  {
    name: 'admin connectors',
    summary: 'list the connectors: group, state, version, address and last seen, tunnels, certificate age and expiry',
    synopsis: `[--group GROUP] ${COMMON}`,
    options: { ...common, group: group('only this group') },
    examples: [`gatehouse admin connectors --group office --service ${SERVICE} --ca-file connector-ca.pem`],
    notes: NOTES,
  },
  {
    name: 'admin apps',
    summary: 'list the apps: external URL, pre-authentication, connector group and its state, policies in plain words',
    synopsis: COMMON,
    options: common,
    examples: [`gatehouse admin apps --service ${SERVICE} --json`],
    notes: NOTES,
  },
  {
    name: 'admin what-if',
    summary: 'what the policy engine decides for a user, groups, an address and MFA, and why',
    synopsis: `--app APP --user USER [--group GROUP]… [--ip IP] [--mfa] [--path PATH] ${COMMON}`,
    options: {
      ...common,
      app: { type: 'string', value: 'APP', help: 'the app (its id)' },
      user: { type: 'string', value: 'USER', help: 'the user (subject, or an email address)' },
      group: group('a group the user is in; repeatable'),
      ip: { type: 'string', value: 'IP', help: 'the client address, which decides named locations (default 127.0.0.1)' },
      mfa: { type: 'boolean', help: 'the user signed in with multi-factor authentication' },
      path: { type: 'string', value: 'PATH', help: 'the path asked for (default /)' },
    },
    examples: [`gatehouse admin what-if --app wiki --user dana@example.com --group staff --ip 203.0.113.7 --service ${SERVICE}`],
    notes: NOTES,
  },
  {
    name: 'admin events',
    summary: 'recent audit events, newest first: sign-ins, denials and their reasons',
    synopsis: `[--user USER] [--app APP] [--outcome success|failure|info] [--reason TEXT] [--request-id ID] [--limit N] ${COMMON}`,
    options: {
      ...common,
      user: { type: 'string', value: 'USER', help: "only this user's events (subject or email)" },
      app: { type: 'string', value: 'APP', help: "only this app's events" },
      outcome: { type: 'string', value: 'OUTCOME', help: 'only success, failure or info' },
      reason: { type: 'string', value: 'TEXT', help: 'only events whose reason or code contains this (any case)' },
      'request-id': { type: 'string', value: 'ID', help: "only this request's events (its X-Request-Id)" },
      limit: { type: 'string', value: 'N', help: 'at most N events (1 to 1000, default 100)' },
    },
    examples: [`gatehouse admin events --user dana@example.com --outcome failure --service ${SERVICE}`],
    notes: NOTES,
  },
  {
    name: 'admin overview',
    summary: 'per connector group, connectors online and offline, tunnels and streams; certificates expiring; readiness',
    synopsis: COMMON,
    options: common,
    examples: [`gatehouse admin overview --service ${SERVICE}`],
    notes: NOTES,
  },
];

/**
 * Takes the connector ID out of `admin connectors revoke ID` and `… move ID`: the shared parser takes no
 * positional argument after a command's words. `valued` names the options that take a value (the word after them is theirs).
 */
export function takeConnectorId(argv: readonly string[], valued: ReadonlySet<string>): { readonly argv: string[]; readonly id: string | undefined } {
  const positions: number[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === '--') break;
    if (arg.startsWith('-')) {
      if (valued.has(arg)) index++;
      continue;
    }
    positions.push(index);
  }
  const words = positions.map((index) => argv[index]);
  const at = positions[3];
  if (words[0] !== 'admin' || words[1] !== 'connectors' || (words[2] !== 'revoke' && words[2] !== 'move') || at === undefined)
    return { argv: [...argv], id: undefined };
  return { argv: argv.filter((_, index) => index !== at), id: argv[at] };
}

/** The spellings of the options that take a value (`--config`, `-c`), for takeConnectorId. */
export function valuedOptions(commands: readonly CliCommand[]): Set<string> {
  const options = commands.flatMap((command) => Object.entries(command.options)).filter(([, option]) => option.type === 'string');
  return new Set(options.flatMap(([name, option]) => [`--${name}`, ...(option.short ? [`-${option.short}`] : [])]));
}
