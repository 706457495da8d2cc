/**
 * CPU time of a process in nanoseconds, summed over its live threads from
 * /proc/PID/task/TID/schedstat (the scheduler's own run-time count), rather
 * than /proc/PID/stat's utime + stime, which come in 10 ms ticks: a 1 KiB GET
 * costs tens of microseconds, so per-request figures from ticks need long
 * runs to be exact to a few percent. Threads that exit between two readings
 * take their time with them; Node's threads (main, libuv pool, V8 platform
 * workers) live as long as the process.
 */
import { readdirSync, readFileSync } from 'node:fs';

export function threadCpuNs(pid: number): number {
  return threadSchedstat(pid).cpuNs;
}

/**
 * CPU time (ns) and the number of times the scheduler put one of the
 * process's threads on a CPU, summed over its live threads: the second is
 * a count of wake-ups, i.e. of the event-loop turns and pool hand-offs a
 * request costs.
 */
export function threadSchedstat(pid: number): { cpuNs: number; slices: number } {
  let cpuNs = 0;
  let slices = 0;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { cpuNs: NaN, slices: NaN };
  }
  for (const tid of tasks) {
    try {
      const [ns, , count] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ');
      cpuNs += Number(ns);
      slices += Number(count);
    } catch {
      // The thread exited between the listing and the read.
    }
  }
  return { cpuNs, slices };
}

/** The 1-minute load average, as Linux prints it. */
export function loadAverage1(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}
