/**
 * The primary of `gatehouse serve --workers N`: it serves nothing itself. It starts N workers with node:cluster
 * (on Linux the primary accepts on the users' port and hands connections out round-robin), starts a worker that
 * died again after a backoff, passes SIGHUP on to every worker, and on SIGTERM or SIGINT asks every worker to
 * drain and waits for all of them. A worker that keeps dying before its store answers stops the whole gateway.
 */
import cluster, { type Worker } from 'node:cluster';
import { createBackoff, type Backoff } from '../backoff.ts';
import { WORKER_RESTART_BASE_MS, WORKER_RESTART_CAP_MS, WORKER_START_ATTEMPTS } from '../limits.ts';

/** The environment variable that tells a worker its number (1-based). */
export const WORKER_ENV = 'GATEHOUSE_WORKER';

/** Messages between the primary and its workers, over the cluster's IPC channel. */
export type WorkerMessage = { readonly gatehouse: 'started' } | { readonly gatehouse: 'stop'; readonly signal: string } | { readonly gatehouse: 'reload' };

export function isWorkerMessage(value: unknown): value is WorkerMessage {
  return typeof value === 'object' && value !== null && typeof (value as { gatehouse?: unknown }).gatehouse === 'string';
}

interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  started: boolean;
  failedStarts: number;
  readonly backoff: Backoff;
  restart: NodeJS.Timeout | undefined;
}

const say = (line: string): void => void process.stderr.write(`gatehouse: ${line}\n`);

/** Runs the workers until a signal stops them (0) or one keeps dying at start (1). */
export function runPrimary(workers: number): Promise<number> {
  const slots: Slot[] = Array.from({ length: workers }, (_, i) => ({
    index: i + 1,
    worker: undefined,
    started: false,
    failedStarts: 0,
    backoff: createBackoff({ baseMs: WORKER_RESTART_BASE_MS, capMs: WORKER_RESTART_CAP_MS }),
    restart: undefined,
  }));
  let stopping = false;
  let code = 0;
  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (finish = resolve));

  const running = (): Worker[] => slots.flatMap((slot) => (slot.worker ? [slot.worker] : []));
  const send = (message: WorkerMessage): void => {
    for (const worker of running()) if (worker.isConnected()) worker.send(message);
  };
  const finishIfIdle = (): void => {
    if (stopping && running().length === 0) finish(code);
  };

  const stopAll = (signal: string, exitCode: number): void => {
    stopping = true;
    code = exitCode;
    for (const slot of slots) clearTimeout(slot.restart);
    say(`${signal}, stopping ${running().length} worker${running().length === 1 ? '' : 's'}`);
    send({ gatehouse: 'stop', signal });
    finishIfIdle();
  };

  const start = (slot: Slot): void => {
    slot.restart = undefined;
    slot.started = false;
    const worker = cluster.fork({ [WORKER_ENV]: String(slot.index) });
    slot.worker = worker;
    say(`worker ${slot.index} started (pid ${worker.process.pid})`);
    worker.on('message', (message: unknown) => {
      if (!isWorkerMessage(message) || message.gatehouse !== 'started') return;
      slot.started = true;
      slot.failedStarts = 0;
      slot.backoff.reset();
    });
    worker.on('exit', (exitCode, signal) => {
      slot.worker = undefined;
      const how = signal ? `signal ${signal}` : `code ${exitCode}`;
      if (stopping) {
        say(`worker ${slot.index} (pid ${worker.process.pid}) stopped (${how})`);
        finishIfIdle();
        return;
      }
      if (!slot.started) slot.failedStarts += 1;
      if (slot.failedStarts >= WORKER_START_ATTEMPTS) {
        say(`worker ${slot.index} died ${slot.failedStarts} times in a row before it started (last: ${how}); stopping the gateway`);
        stopAll('worker start failures', 1);
        return;
      }
      const wait = Math.round(slot.backoff.next());
      say(`worker ${slot.index} (pid ${worker.process.pid}) died (${how}); starting it again in ${wait} ms`);
      slot.restart = setTimeout(() => start(slot), wait);
    });
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      say(`${signal} again, killing the workers without waiting for requests in flight`);
      for (const worker of running()) worker.process.kill('SIGKILL');
      process.exit(1);
    }
    stopAll(signal, 0);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', () => {
    say(`SIGHUP, reloading ${running().length} worker${running().length === 1 ? '' : 's'}`);
    send({ gatehouse: 'reload' });
  });

  say(`starting ${workers} workers (pid ${process.pid} is the primary)`);
  for (const slot of slots) start(slot);
  return done.then((exitCode) => {
    say('all workers stopped');
    return exitCode;
  });
}
