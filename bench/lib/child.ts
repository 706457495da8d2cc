/**
 * Child processes for the benchmark and the endurance test: Node entry
 * points started with an IPC channel, so that the parent can ask them for
 * their address, statistics or a session cookie, and so that they exit on
 * their own when the parent goes away (the channel closes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export interface IpcRequest {
  readonly id: number;
  readonly cmd: string;
  readonly args?: Record<string, unknown>;
}

export type IpcReply =
  { readonly id: number; readonly ok: true; readonly result: unknown } | { readonly id: number; readonly ok: false; readonly error: string };

export interface ReadyMessage<T> {
  readonly type: 'ready';
  readonly info: T;
}

export interface Child<Info> {
  readonly process: ChildProcess;
  readonly pid: number;
  readonly info: Info;
  stdout(): string;
  stderr(): string;
  /** Sends a command and resolves with its result; rejects after `timeoutMs`. */
  call<T>(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** Asks nicely (SIGTERM), then SIGKILL after `graceMs`. Resolves with the exit code (or signal name). */
  stop(graceMs?: number): Promise<number | string | null>;
}

export interface StartChildOptions {
  /** Flags for node itself, e.g. --trace-warnings, --cpu-prof. */
  readonly nodeArgs?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** How long to wait for the child's `ready` message. */
  readonly readyTimeoutMs?: number;
  /** Copies the child's stderr to ours as it comes, prefixed. */
  readonly echoStderr?: string;
  /** A program that runs node, with its arguments before node's path: e.g. `['valgrind', '--tool=callgrind']`. */
  readonly wrapper?: readonly string[];
}

const LIVE = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Whatever happens to the parent, its children do not outlive it.
  process.once('exit', () => {
    for (const child of LIVE) child.kill('SIGKILL');
  });
}

/** Starts `node [nodeArgs] script [args]` and waits for its `{ type: 'ready', info }` message. */
export async function startChild<Info>(script: string, args: readonly string[], options: StartChildOptions = {}): Promise<Child<Info>> {
  installExitHook();
  const [program, ...wrapperArgs] = options.wrapper ?? [];
  const nodeCommand = [process.execPath, ...(options.nodeArgs ?? []), script, ...args];
  const child = spawn(program ?? process.execPath, program === undefined ? nodeCommand.slice(1) : [...wrapperArgs, ...nodeCommand], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  LIVE.add(child);
  child.once('exit', () => LIVE.delete(child));
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    // Bounded: a chatty child must not grow the parent without limit.
    out = (out + chunk).slice(-1_000_000);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err = (err + chunk).slice(-1_000_000);
    if (options.echoStderr !== undefined) process.stderr.write(chunk.replace(/^(?=.)/gm, options.echoStderr));
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  let nextId = 1;
  child.on('message', (message: IpcReply | ReadyMessage<Info>) => {
    if ('id' in message) {
      const waiting = pending.get(message.id);
      if (!waiting) return;
      pending.delete(message.id);
      clearTimeout(waiting.timer);
      if (message.ok) waiting.resolve(message.result);
      else waiting.reject(new Error(message.error));
    }
  });
  child.once('exit', (code, signal) => {
    for (const [, waiting] of pending) {
      clearTimeout(waiting.timer);
      waiting.reject(new Error(`${script} exited (${code ?? signal}) before answering\n${err}`));
    }
    pending.clear();
  });

  const info = await new Promise<Info>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      child.kill('SIGKILL');
      reject(new Error(`${script} was not ready in time\nstdout:\n${out}\nstderr:\n${err}`));
    }, options.readyTimeoutMs ?? 60_000);
    const onMessage = (message: IpcReply | ReadyMessage<Info>): void => {
      if ('type' in message && message.type === 'ready') {
        cleanup();
        resolve(message.info);
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      cleanup();
      reject(new Error(`${script} exited (${code ?? signal}) before it was ready\nstdout:\n${out}\nstderr:\n${err}`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });

  return {
    process: child,
    pid: child.pid!,
    info,
    stdout: () => out,
    stderr: () => err,
    call<T>(cmd: string, args?: Record<string, unknown>, timeoutMs = 60_000): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        if (!child.connected) {
          reject(new Error(`${script} is not running`));
          return;
        }
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${script} did not answer ${cmd} in time`));
        }, timeoutMs);
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
        child.send({ id, cmd, ...(args ? { args } : {}) } satisfies IpcRequest);
      });
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode ?? child.signalCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const [code, signal] = await exited;
      clearTimeout(timer);
      return code ?? signal;
    },
  };
}

/**
 * Child side, the `gc` command: a full garbage collection (the child runs
 * with --expose-gc), so that RSS sampled next says what is left, not when V8
 * last collected. A memory-reducing one (V8's "last resort" flavour, what it
 * runs itself under memory pressure): a plain full GC keeps the heap pages it
 * emptied, so after a busy spell the heap's committed size, and RSS with it,
 * stays 100 MiB and more above what the live objects need (measured in the
 * chaos soak: heap used 39 MiB, heap committed 177 MiB after a plain GC, 42 MiB
 * after this one), which hides a leak as well as it fakes one.
 */
export function fullGc(): NodeJS.MemoryUsage {
  const collect = (globalThis as { gc?: (options?: GcOptions) => void }).gc;
  if (!collect) throw new Error('start this process with --expose-gc');
  collect();
  collect({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return process.memoryUsage();
}

interface GcOptions {
  readonly type: 'major' | 'minor';
  readonly execution: 'sync' | 'async';
  readonly flavor?: 'regular' | 'last-resort';
}

/**
 * Child side: answers the parent's commands with `handlers`, tells it
 * `ready` with `info`, and runs `shutdown` then exits when the parent goes
 * away or sends SIGTERM.
 */
export function serveParent<Info>(info: Info, handlers: Record<string, (args: Record<string, unknown>) => unknown>, shutdown: () => Promise<void>): void {
  if (!process.send) throw new Error('start this script with an IPC channel (bench/lib/child.ts startChild)');
  let stopping = false;
  const stop = (code: number): void => {
    if (stopping) return;
    stopping = true;
    // Bounded: a shutdown that hangs does not keep the process alive.
    setTimeout(() => process.exit(code), 10_000).unref();
    shutdown().then(
      () => process.exit(code),
      (error: unknown) => {
        process.stderr.write(`shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('message', (message: IpcRequest) => {
    const handler = handlers[message.cmd];
    const reply = (payload: IpcReply): void => {
      if (process.connected) process.send!(payload);
    };
    if (!handler) {
      reply({ id: message.id, ok: false, error: `unknown command ${message.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.args ?? {}))
      .then(
        (result) => reply({ id: message.id, ok: true, result: result ?? null }),
        (error: unknown) => reply({ id: message.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      );
  });
  process.once('disconnect', () => stop(0));
  process.once('SIGTERM', () => stop(0));
  process.once('SIGINT', () => stop(0));
  process.send({ type: 'ready', info } satisfies ReadyMessage<Info>);
}
