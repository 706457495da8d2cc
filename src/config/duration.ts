/**
 * Durations as the configuration writes them: "90s", "30m", "8h", "1d" or a
 * whole number of seconds. One parser and one schema, so every section
 * accepts the same spellings and refuses the rest with the same words.
 */
import { z } from 'zod';

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

const DURATION = /^(\d+)(s|m|h|d)$/;

/** Parses "90s", "30m", "8h", "1d" or a number of seconds. Returns undefined when malformed. */
export function parseDurationSeconds(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  const match = DURATION.exec(value.trim());
  if (!match) return undefined;
  const [, amount, unit] = match;
  const seconds = Number(amount) * (UNIT_SECONDS[unit ?? ''] ?? Number.NaN);
  return Number.isSafeInteger(seconds) && seconds > 0 ? seconds : undefined;
}

/** A duration key of the configuration, as whole seconds; `example` is what the error message suggests. */
export function durationSeconds(example: string, maxSeconds?: number) {
  const bound = maxSeconds === undefined ? '' : `, at most ${maxSeconds} seconds`;
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const seconds = parseDurationSeconds(value);
    if (seconds === undefined || (maxSeconds !== undefined && seconds > maxSeconds)) {
      ctx.addIssue({ code: 'custom', message: `must be a duration such as "${example}" (units s, m, h, d) or a positive whole number of seconds${bound}` });
      return z.NEVER;
    }
    return seconds;
  });
}
