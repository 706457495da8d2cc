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
  const socket = new WebSocket(url, { perMessageDeflate: false });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer from the inspector at ${url}`)), timeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once('open', () => socket.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' })));
      socket.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString('utf8')) as { id?: number; error?: { message: string } };
        if (message.id !== 1) return;
        clearTimeout(timer);
        if (message.error) reject(new Error(message.error.message));
        else resolve();
      });
    });
  } finally {
    socket.close();
    socket.terminate();
  }
}
