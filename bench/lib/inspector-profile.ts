/**
 * A V8 CPU profile of another Node process over a window the caller chooses,
 * through its inspector (started with --inspect=127.0.0.1:0): the same way
 * for the direct proxy, the Gatehouse service and the connector CLI, so that
 * their profiles cover exactly the same measured run and nothing else (no
 * start-up, no warm-up).
 */
import WebSocket from 'ws';

export interface RunningProfile {
  /** Stops the profiler and returns the profile (the .cpuprofile JSON), then disconnects. */
  stop(): Promise<unknown>;
}

/** Starts the sampling profiler in the process behind `url` (see inspectorUrl in inspector-gc.ts), sampling every `intervalUs`. */
export async function startProfile(url: string, intervalUs = 500, timeoutMs = 15_000): Promise<RunningProfile> {
  const socket = new WebSocket(url, { perMessageDeflate: false });
  const waiting = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  socket.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString('utf8')) as { id?: number; result?: unknown; error?: { message: string } };
    const entry = message.id === undefined ? undefined : waiting.get(message.id);
    if (!entry) return;
    waiting.delete(message.id!);
    if (message.error) entry.reject(new Error(message.error.message));
    else entry.resolve(message.result);
  });
  const post = (method: string, params?: Record<string, unknown>): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error(`no answer to ${method} from the inspector at ${url}`)), timeoutMs);
      waiting.set(id, {
        resolve: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      socket.send(JSON.stringify({ id, method, ...(params ? { params } : {}) }));
    });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: intervalUs });
  await post('Profiler.start');
  return {
    async stop() {
      try {
        const { profile } = (await post('Profiler.stop')) as { profile: unknown };
        return profile;
      } finally {
        socket.close();
        socket.terminate();
      }
    },
  };
}
