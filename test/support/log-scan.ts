/**
 * The log scan: every gateway test/support/stack.ts builds logs at `trace` into
 * a recorder, and every line is checked for the secrets the tests met: cookie
 * values (from Cookie and Set-Cookie headers on the stack's server),
 * credentials in Authorization headers, secret-named query parameters (the
 * authorization code and state of each sign-in callback), the configuration's
 * client and session secrets; and for what is a secret whatever its value: a
 * JWT (ID, access or admin token, identity assertion), a sealed session
 * (`Fe26.2*`), a private key, a bearer credential.
 *
 * The lines every process started through dev/lib/processes.ts prints (gatehouse serve, connectors, CLIs) are
 * checked the same way.
 *
 * Registered as a mocha root hook plugin in .mocharc (`require`), or with
 * `--require test/support/log-scan.ts`; off with GATEHOUSE_LOG_SCAN=0. Each
 * test's lines are checked after it (against the secrets seen up to then, so
 * memory stays bounded), and the run fails at the end with every leak found.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from '../../src/logging/logger.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { isSecretQueryName } from '../../src/logging/query-redaction.ts';
import { watchProcessOutput } from '../../dev/lib/processes.ts';

/** Shorter values are too likely to occur by chance (`1`, `deleted`, a short id). */
const MIN_SECRET_CHARS = 16;
const MIN_QUERY_SECRET_CHARS = 8;

/** Secrets by their shape: none of these ever belongs in a log line. */
export const SECRET_PATTERNS: readonly { readonly name: string; readonly pattern: RegExp }[] = [
  { name: 'a JWT', pattern: /eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}/ },
  { name: 'a sealed session', pattern: /Fe26\.2\*/ },
  { name: 'a private key', pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/ },
  { name: 'a bearer credential', pattern: /Bearer [\w.~+/=-]{16,}/i },
];

let active = false;
let unwatch: (() => void) | undefined;
let lines: string[] = [];
/** Seen during the current test (cookies, codes), and for the whole run (configuration secrets). */
let seen = new Set<string>();
const lasting = new Set<string>();
const leaks: string[] = [];

/** Whether the scan hooks are registered in this run. */
export function logScanActive(): boolean {
  return active;
}

/** `{ logger }` recording at `trace` while the scan runs, else nothing: spread into a gateway's options before the test's own. */
export function scannedLogger(): { logger?: Logger } {
  if (!active) return {};
  return { logger: createLogger({ level: 'trace', destination: { write: (line: string) => void lines.push(line) } }) };
}

/** A value that must never be logged. */
export function noteSecret(value: string | undefined, lastingForRun = false, minChars = MIN_SECRET_CHARS): void {
  if (!active || value === undefined || value.length < minChars) return;
  (lastingForRun ? lasting : seen).add(value);
}

/** Notes the configuration's client secret and session secrets. */
export function noteConfigSecrets(config: { identityProvider?: { clientSecret?: string }; session?: { secrets?: readonly { secret?: string }[] } }): void {
  noteSecret(config.identityProvider?.clientSecret, true);
  for (const entry of config.session?.secrets ?? []) noteSecret(entry.secret, true);
}

/** Harvests the secrets every request to `server` carries and every answer sets, before anything else sees them. */
export function watchForSecrets(server: Server): void {
  if (!active) return;
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    noteRequest(req);
    res.once('finish', () => noteSetCookies(res.getHeader('set-cookie')));
  });
  server.prependListener('upgrade', (req: IncomingMessage) => noteRequest(req));
}

function noteRequest(req: IncomingMessage): void {
  for (const pair of (req.headers.cookie ?? '').split(';')) noteSecret(pair.slice(pair.indexOf('=') + 1).trim());
  noteSecret(req.headers.authorization?.replace(/^\S+\s+/, ''));
  const url = req.url ?? '';
  const mark = url.indexOf('?');
  if (mark === -1) return;
  for (const [name, value] of new URLSearchParams(url.slice(mark + 1))) {
    if (isSecretQueryName(name)) noteSecret(value, false, MIN_QUERY_SECRET_CHARS);
  }
}

function noteSetCookies(header: number | string | string[] | undefined): void {
  for (const line of Array.isArray(header) ? header : typeof header === 'string' ? [header] : []) {
    const pair = line.split(';')[0] ?? '';
    noteSecret(pair.slice(pair.indexOf('=') + 1).trim());
  }
}

/** The leaks in `logged`: what each leaking line holds and in which fields, never the values (the report is no leak). */
export function findLeaks(logged: readonly string[], secrets: Iterable<string>): string[] {
  const found: string[] = [];
  const values = [...secrets];
  const holds = (text: string): string | undefined => {
    const secret = values.find((value) => text.includes(value));
    if (secret !== undefined) return 'a secret seen in the test';
    return SECRET_PATTERNS.find(({ pattern }) => pattern.test(text))?.name;
  };
  for (const line of logged) {
    const what = holds(line);
    if (what === undefined) continue;
    let record: Record<string, unknown> = {};
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      // Not JSON: the line is reported without fields.
    }
    const fields = Object.entries(record)
      .filter(([, value]) => holds(JSON.stringify(value) ?? '') !== undefined)
      .map(([key]) => key);
    found.push(
      `${what} in ${fields.length > 0 ? fields.join(', ') : 'the line'} of ${JSON.stringify(record['msg'] ?? '')}${record['component'] ? ` (${JSON.stringify(record['component'])})` : ''}`,
    );
  }
  return found;
}

function scan(title: string): void {
  for (const leak of findLeaks(lines, [...seen, ...lasting])) leaks.push(`${title}: ${leak}`);
  lines = [];
  seen = new Set();
}

export const mochaHooks = {
  beforeAll(): void {
    active = process.env['GATEHOUSE_LOG_SCAN'] !== '0';
    if (active) unwatch = watchProcessOutput((line) => void lines.push(line));
  },
  afterEach(this: { currentTest?: { fullTitle(): string } }): void {
    if (active) scan(this.currentTest?.fullTitle() ?? 'a test');
  },
  afterAll(): void {
    if (!active) return;
    scan('after the last test');
    active = false;
    unwatch?.();
    if (leaks.length > 0) throw new Error(`log lines hold secrets (${leaks.length}):\n${leaks.slice(0, 50).join('\n')}`);
  },
};
