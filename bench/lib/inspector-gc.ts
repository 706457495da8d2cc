/**
 * A full garbage collection in another Node process through its inspector
 * (started with --inspect=127.0.0.1:0), for processes we cannot ask over
 * IPC, such as the connector CLI: RSS sampled right after it says what the
 * process retains, not when V8 last collected.
 */
import WebSocket from 'ws';

/** The inspector's WebSocket URL, from the "Debugger listening on ws://…" line a process printed on stderr. */
export function inspectorUrl(stderr: string): string {
  const url = /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]+)/.exec(stderr)?.[1];
  if (!url) throw new Error(`the process printed no inspector URL (start it with --inspect=127.0.0.1:0):\n${stderr.slice(0, 2000)}`);
  return url;
}

/** Runs HeapProfiler.collectGarbage in the process behind `url`, then disconnects (a connected debugger would hold its exit). */
export async function collectGarbage(url: string, timeoutMs = 15_000): Promise<void> {
  await inspectorCalls(url, [{ method: 'HeapProfiler.collectGarbage' }], timeoutMs);
}

/**
 * A full garbage collection, then the process's own `process.memoryUsage()`:
 * heapUsed and external say what JavaScript retains, exactly, where RSS also
 * moves with what the allocator keeps cached from the last burst.
 */
export async function memoryAfterGc(url: string, timeoutMs = 15_000): Promise<NodeJS.MemoryUsage> {
  const [, usage] = await inspectorCalls(
    url,
    [
      { method: 'HeapProfiler.collectGarbage' },
      { method: 'Runtime.evaluate', params: { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true } },
    ],
    timeoutMs,
  );
  const value = (usage as { result?: { value?: unknown } } | undefined)?.result?.value;
  if (typeof value !== 'string') throw new Error(`the inspector at ${url} returned no memory usage`);
  return JSON.parse(value) as NodeJS.MemoryUsage;
}

/** Sends each call in turn over one inspector connection and returns their results, then disconnects. */
async function inspectorCalls(url: string, calls: { method: string; params?: object }[], timeoutMs: number): Promise<unknown[]> {
  const socket = new WebSocket(url, { perMessageDeflate: false });
  const results: unknown[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer from the inspector at ${url}`)), timeoutMs);
      const send = (index: number): void => {
        socket.send(JSON.stringify({ id: index + 1, method: calls[index]!.method, params: calls[index]!.params ?? {} }));
      };
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once('open', () => send(0));
      socket.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString('utf8')) as { id?: number; result?: unknown; error?: { message: string } };
        if (message.id !== results.length + 1) return;
        if (message.error) {
          clearTimeout(timer);
          reject(new Error(message.error.message));
          return;
        }
        results.push(message.result);
        if (results.length < calls.length) send(results.length);
        else {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    return results;
  } finally {
    socket.close();
    socket.terminate();
  }
}
