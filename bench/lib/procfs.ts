/** What Linux says about a process: memory and CPU time, from /proc. */
import { readFileSync } from 'node:fs';

export interface ProcessMemory {
  /** Resident set size, bytes. */
  readonly rss: number;
  /** Peak resident set size (VmHWM), bytes. */
  readonly peak: number;
}

export function processMemory(pid: number): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) * 1024 : NaN;
  };
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

/**
 * User + system CPU time of a process so far, in milliseconds (USER_HZ is
 * 100 on Linux). With `reapedChildren`, the time of its children that
 * exited and were waited for instead (how a parent learns what a finished
 * load generator used).
 */
export function cpuTimeMs(pid: number | 'self', reapedChildren = false): number {
  const { user, system } = cpuTimesMs(pid, reapedChildren);
  return user + system;
}

/** The same, user and system time apart (NaN for a process that is gone). */
export function cpuTimesMs(pid: number | 'self', reapedChildren = false): { user: number; system: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime, cutime, cstime are fields 14 to 17 of stat, i.e. 12 to 15 after the name.
    const [user, system] = reapedChildren ? [fields[13], fields[14]] : [fields[11], fields[12]];
    return { user: Number(user) * 10, system: Number(system) * 10 };
  } catch {
    return { user: NaN, system: NaN };
  }
}

export function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return match?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export const MiB = 1024 * 1024;
