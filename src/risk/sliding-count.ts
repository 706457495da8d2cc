/**
 * Timestamps of recent failures for one key, newest last, never more than
 * `keep` of them: once `keep` (the highest threshold) failures fall in the
 * window, older ones cannot change any answer, so they are not stored.
 */
export function recordTime(times: number[], now: number, windowMs: number, keep: number): void {
  const start = now - windowMs;
  let expired = 0;
  while (expired < times.length && (times[expired] ?? 0) <= start) expired += 1;
  if (expired > 0) times.splice(0, expired);
  times.push(now);
  if (times.length > keep) times.splice(0, times.length - keep);
}

/** How many of `times` fall in the window (now - windowMs, now]; a time from a clock that went back still counts. */
export function countInWindow(times: readonly number[], now: number, windowMs: number): number {
  const start = now - windowMs;
  let count = 0;
  for (const time of times) if (time > start) count += 1;
  return count;
}
