/**
 * What a bench that measures one process's work per request reads: CPU time
 * (the scheduler's nanoseconds over every thread, bench/lib/thread-cpu.ts),
 * or, with `--instructions`, the instructions valgrind counted
 * (bench/lib/instruction-count.ts). Both readings are in units of which a
 * thousand make the figure per request: ns → µs of CPU, instructions → k
 * instructions. One meter per run, so that every reading, wait and label of
 * a bench agrees on which of the two it measures.
 */
import { callgrindWrapper, instructionsSoFar, requireValgrind } from './instruction-count.ts';
import { threadCpuNs } from './thread-cpu.ts';

export interface WorkMeter {
  /** True when instructions are counted under valgrind. */
  readonly counting: boolean;
  /** How much longer every wait must be: under valgrind a process is some fifty times slower. */
  readonly slow: number;
  /** What perRequest's figure is: `µs of CPU` or `k instructions`. */
  readonly unit: string;
  /** The same, short, for a figure's suffix: `µs` or `k instructions`. */
  readonly shortUnit: string;
  /** Stops with one clear line when what the meter needs is missing (valgrind when counting). */
  readonly ready: () => Promise<void>;
  /** Work the process has done so far: ns of CPU, or instructions. */
  readonly reading: (pid: number) => Promise<number>;
  /** A difference of two readings over `count` (requests, or seconds): µs of CPU, or thousands of instructions, each. */
  readonly perRequest: (work: number, count: number) => number;
  /** What a measured process is started under (bench/lib/child.ts `wrapper`), its profile files in `dir`: valgrind when counting. */
  readonly wrapper: (dir: string) => string[] | undefined;
}

export function workMeter(counting: boolean): WorkMeter {
  return {
    counting,
    slow: counting ? 10 : 1,
    unit: counting ? 'k instructions' : 'µs of CPU',
    shortUnit: counting ? 'k instructions' : 'µs',
    ready: () => (counting ? requireValgrind() : Promise.resolve()),
    reading: (pid) => (counting ? instructionsSoFar(pid) : Promise.resolve(threadCpuNs(pid))),
    perRequest: (work, count) => work / count / 1000,
    wrapper: (dir) => (counting ? callgrindWrapper(dir) : undefined),
  };
}
