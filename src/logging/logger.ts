import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Paths that must never reach a log line. */
const REDACT = [
  'req.headers.cookie',
  'req.headers.authorization',
  'headers.cookie',
  'headers.authorization',
  '*.clientSecret',
  '*.secret',
  '*.secrets',
  '*.password',
  '*.id_token',
  '*.access_token',
  '*.refresh_token',
  '*.code_verifier',
  '*.token',
  '*.csr',
  '*.keyPem',
];

/** The library's default logger is silent; the CLI asks for a real one. */
export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? 'silent';
  const settings = { level, redact: { paths: REDACT, censor: '[redacted]' }, base: { name: 'gatehouse' } };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
