import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';

export interface RunningProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves when stderr or stdout has printed a line matching `pattern`; rejects on exit or timeout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends `signal` and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Told each whole line a started process prints (the test suite's log scan listens), with the script's path. */
export type ProcessOutputWatcher = (line: string, script: string) => void;
const watchers = new Set<ProcessOutputWatcher>();

/** Starts telling `watcher` every line the processes started from now on print; returns the function that stops it. */
export function watchProcessOutput(watcher: ProcessOutputWatcher): () => void {
  watchers.add(watcher);
  return () => watchers.delete(watcher);
}

/** Splits a stream's chunks into lines for the watchers (a line cut across two chunks is told once, whole). */
function lineTeller(script: string): { chunk(text: string): void; end(): void } {
  let partial = '';
  const tell = (line: string): void => {
    for (const watcher of watchers) watcher(line, script);
  };
  return {
    chunk(text) {
      if (watchers.size === 0) return;
      const parts = (partial + text).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) tell(line);
    },
    end() {
      if (partial !== '') tell(partial);
      partial = '';
    },
  };
}

/** Runs one of our TypeScript entry points on the same Node that runs the tests. */
export function startNode(script: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): RunningProcess {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const outLines = lineTeller(script);
  const errLines = lineTeller(script);
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    outLines.chunk(chunk);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
    errLines.chunk(chunk);
  });
  child.stdout.on('end', () => outLines.end());
  child.stderr.on('end', () => errLines.end());
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitFor(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const match = pattern.exec(err) ?? pattern.exec(out);
          if (match) {
            cleanup();
            resolve(match);
          }
          return match !== null;
        };
        const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
          cleanup();
          const how = signal === null ? `with code ${code}` : `on ${signal}`;
          reject(new Error(`process exited ${how} before printing ${pattern}\nstdout:\n${out}\nstderr:\n${err}`));
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${pattern}\nstdout:\n${out}\nstderr:\n${err}`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          child.stdout.off('data', check);
          child.stderr.off('data', check);
          child.off('exit', onExit);
        };
        if (check()) return;
        child.stdout.on('data', check);
        child.stderr.on('data', check);
        child.once('exit', onExit);
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = await exited;
      return code;
    },
  };
}

/** Runs a command to completion. */
export async function runNode(
  script: string,
  args: string[],
  options: { cwd?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const running = startNode(script, args, options);
  // 'close', not 'exit': the process's output is all read by then.
  const [code] = (await once(running.child, 'close')) as [number | null];
  return { code, stdout: running.stdout(), stderr: running.stderr() };
}
