/**
 * Redis's own per-command counters (`INFO commandstats`), for the Redis
 * variant of the benchmark: what a measured window cost Redis, minus what the
 * gateway sends whether or not requests arrive (its instance heartbeat), minus
 * the INFO probes themselves.
 */

/** Calls per command since the server started, e.g. `get` → 12, `client|setname` → 1. */
export type CommandCounts = ReadonlyMap<string, number>;

/** Parses the reply of `INFO commandstats` (lines `cmdstat_<name>:calls=N,usec=…`). */
export function parseCommandStats(info: string): CommandCounts {
  const counts = new Map<string, number>();
  for (const line of info.split(/\r?\n/)) {
    const match = /^cmdstat_([^:]+):(.*)$/.exec(line.trim());
    if (!match) continue;
    const calls = /(?:^|,)calls=(\d+)(?:,|$)/.exec(match[2]!);
    if (calls) counts.set(match[1]!.toLowerCase(), Number(calls[1]));
  }
  return counts;
}

/**
 * What was called between two snapshots, per command. Each snapshot is one
 * INFO, counted by Redis only once it has answered: the later snapshot
 * therefore holds the earlier one's INFO, which is taken out here.
 */
export function commandsBetween(before: CommandCounts, after: CommandCounts): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [name, calls] of after) {
    const n = calls - (before.get(name) ?? 0) - (name === 'info' ? 1 : 0);
    if (n > 0) delta.set(name, n);
  }
  return delta;
}

/**
 * The commands of a window with the background taken out: `background` was
 * counted over `backgroundSeconds` while the gateway served no request, and
 * is removed at that rate over the window's `seconds`, per command, rounded
 * up (never below zero). Background work comes in rounds (a heartbeat every
 * few seconds), so a short window holds one round more or less than its
 * rate: rounding up takes out that extra round, and costs a command that
 * requests cause thousands of times at most one.
 */
export function withoutBackground(
  window: ReadonlyMap<string, number>,
  seconds: number,
  background: ReadonlyMap<string, number>,
  backgroundSeconds: number,
): Map<string, number> {
  const rest = new Map<string, number>();
  for (const [name, calls] of window) {
    const expected = backgroundSeconds > 0 ? Math.ceil(((background.get(name) ?? 0) * seconds) / backgroundSeconds) : 0;
    if (calls > expected) rest.set(name, calls - expected);
  }
  return rest;
}

export const totalCalls = (counts: ReadonlyMap<string, number>): number => [...counts.values()].reduce((sum, n) => sum + n, 0);

/** `evalsha 12, get 3` (most called first), or `none`. */
export function describeCommands(counts: ReadonlyMap<string, number>): string {
  const entries = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return entries.length === 0 ? 'none' : entries.map(([name, n]) => `${name} ${n}`).join(', ');
}
