/** Small wordings the pages share: times, ages, counts. */

export function ago(iso: string | undefined, now: number): string {
  if (iso === undefined) return 'never seen';
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  if (!Number.isFinite(seconds)) return 'unknown';
  if (seconds < 5) return 'now';
  return `${span(seconds)} ago`;
}

export function until(iso: string, now: number): string {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  if (!Number.isFinite(seconds)) return 'unknown';
  return seconds <= 0 ? `expired ${span(-seconds)} ago` : `in ${span(seconds)}`;
}

export function span(seconds: number): string {
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} days`;
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** A certificate expiring within this many seconds is named on the overview. */
export const EXPIRING_SOON_SECONDS = 14 * 86_400;
