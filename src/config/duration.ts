const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

const DURATION = /^(\d+)(s|m|h|d)$/;

/** Parses "90s", "30m", "8h", "1d" or a number of seconds. Returns undefined when malformed. */
export function parseDurationSeconds(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : undefined;
  const match = DURATION.exec(value.trim());
  if (!match) return undefined;
  const [, amount, unit] = match;
  const seconds = Number(amount) * (UNIT_SECONDS[unit ?? ''] ?? Number.NaN);
  return Number.isSafeInteger(seconds) && seconds > 0 ? seconds : undefined;
}
