import { pino, type DestinationStream, type Logger } from 'pino';
import { prettyDestination } from './pretty.ts';

export type { Logger } from 'pino';

/** The levels `--log-level` and `logging.level` accept. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `json`: one JSON object a line, for collectors; `pretty`: one readable line, for people at a terminal. */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Fields that must never reach a log line, at the top of a line or one level down (pino's `*` matches one level). */
const SECRET_FIELDS = ['clientSecret', 'secret', 'secrets', 'password', 'id_token', 'access_token', 'refresh_token', 'code_verifier', 'token', 'csr', 'keyPem'];
const REDACT = [
  'req.headers.cookie',
  'req.headers.authorization',
  'headers.cookie',
  'headers.authorization',
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `*.${field}`),
];

export interface LoggerOptions {
  /** Default: `silent`. */
  readonly level?: string;
  /** Default: `json`. */
  readonly format?: LogFormat;
  /** Default: stdout. Anything with `write(line)`. */
  readonly destination?: DestinationStream;
}

/** The library's default logger is silent; the CLI asks for a real one. Times are ISO 8601 and levels are names, in both formats. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'silent';
  const settings = {
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    base: { name: 'gatehouse' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (options.format === 'pretty') return pino(settings, prettyDestination(options.destination ?? process.stdout));
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
