/**
 * Instructions a process has run, counted by valgrind's callgrind: a figure
 * of work that the other load on a shared machine does not move, where CPU
 * time moves by ±50 % between runs on this kind of machine.
 *
 * The process is started under `valgrind --tool=callgrind` (callgrindWrapper,
 * the `wrapper` of bench/lib/child.ts startChild) and asked through vgdb,
 * valgrind's own gdbserver link, which reaches it even while it waits in a
 * system call.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The wrapper that runs node under callgrind, counting instructions only (no cache or branch simulation). Its
 * profile files go to `dir`; threads are summed, so V8's compiler and GC helper threads count as the work they are.
 */
export function callgrindWrapper(dir: string): string[] {
  return ['valgrind', '--tool=callgrind', '--cache-sim=no', '--branch-sim=no', '--vgdb=yes', `--callgrind-out-file=${dir}/callgrind.%p`];
}

/** Stops with one line saying what to install when valgrind (and its vgdb) is missing. */
export async function requireValgrind(): Promise<void> {
  try {
    await run('valgrind', ['--version']);
    await run('vgdb', ['--help']).catch((error: unknown) => {
      // vgdb --help exits non-zero on some versions; only a missing program matters here.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw error;
    });
  } catch {
    throw new Error('counting instructions needs valgrind: apt-get install -y valgrind');
  }
}

/** Instructions the process has run since it started, all threads together. */
export async function instructionsSoFar(pid: number): Promise<number> {
  const { stdout } = await run('vgdb', [`--pid=${pid}`, 'status', 'internal'], { timeout: 120_000 });
  // One line per thread: `events-<tid>: <Ir>`; the events collected are instructions only (`events: Ir`).
  let total = 0;
  let threads = 0;
  for (const match of stdout.matchAll(/^events-\d+: (\d+)/gm)) {
    total += Number(match[1]);
    threads++;
  }
  if (threads === 0) throw new Error(`vgdb gave no instruction count for process ${pid}:\n${stdout.slice(0, 2000)}`);
  return total;
}
