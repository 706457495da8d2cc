/** Reads the table `strace -c` prints when it stops: calls per system call name. */
export type SyscallCounts = Readonly<Record<string, number>>;

/**
 * One row per system call: `% time, seconds, usecs/call, calls, [errors,] name`. The errors column is blank when
 * a call never failed, so the name is the last field and the calls the fourth; the `total` row is left out.
 */
export function parseStraceSummary(text: string): SyscallCounts {
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5 || !/^\d+(\.\d+)?$/.test(fields[0]!)) continue;
    const name = fields[fields.length - 1]!;
    const calls = Number(fields[3]);
    if (name === 'total' || !/^[a-z_0-9]+$/.test(name) || !Number.isInteger(calls)) continue;
    counts[name] = (counts[name] ?? 0) + calls;
  }
  return counts;
}
