import type { DestinationStream } from 'pino';

/**
 * The `pretty` log format: pino's JSON line rewritten as one line a person
 * reads, in the process and synchronously (no worker thread, no dependency):
 * `<time> <LEVEL> <message> key=value …`. Fields arrive already redacted,
 * since pino redacts while it serializes.
 */

/** Fields every line has that the prefix already shows, or that say nothing at a terminal. */
const SHOWN = new Set(['time', 'level', 'msg', 'name', 'pid', 'hostname']);

/** One JSON log line as a readable line; a line that is not JSON is passed as it is. */
export function formatPretty(line: string): string {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return `${line.trimEnd()}\n`;
  const fields = record as Record<string, unknown>;
  const head = [plain(fields['time']), plain(fields['level']).toUpperCase().padEnd(5), message(fields['msg'])];
  const rest: string[] = [];
  let stack = '';
  for (const [key, value] of Object.entries(fields)) {
    if (SHOWN.has(key) || value === undefined) continue;
    if (key === 'err' && value !== null && typeof value === 'object') {
      const { stack: errStack, ...err } = value as Record<string, unknown>;
      if (typeof errStack === 'string') stack = `\n    ${errStack.replace(/\n/g, '\n    ')}`;
      rest.push(`err=${JSON.stringify(err)}`);
      continue;
    }
    rest.push(`${key}=${typeof value === 'string' ? text(value) : JSON.stringify(value)}`);
  }
  return `${[...head, ...rest].join(' ')}${stack}\n`;
}

/** The message as it is, unless it holds control characters (a newline would start a forged line). */
function message(value: unknown): string {
  const string = plain(value);
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(string) ? JSON.stringify(string) : string;
}

/** Bare when plain; quoted (and escaped) when it has spaces, quotes, `=` or control characters, so a value cannot forge a field or a line. */
function text(value: unknown): string {
  const string = plain(value);
  // eslint-disable-next-line no-control-regex
  return string !== '' && !/[\s"=\\\u0000-\u001f\u007f]/.test(string) ? string : JSON.stringify(string);
}

/** A pino destination that writes each line, formatted, to `out`. */
export function prettyDestination(out: DestinationStream): DestinationStream {
  return { write: (line) => out.write(formatPretty(line)) };
}

function plain(value: unknown): string {
  if (typeof value === 'string') return value;
  return value === undefined || value === null ? '' : JSON.stringify(value);
}
