/** The soak backend (soak/backend.ts) as a child process that can be stopped and started again on the same port. */
import { fileURLToPath } from 'node:url';
import { startNode, type RunningProcess } from '../../dev/lib/processes.ts';
import { freePort } from '../../test/support/free-port.ts';

const SCRIPT = fileURLToPath(new URL('../backend.ts', import.meta.url));

export interface BackendProcess {
  readonly url: string;
  start(): Promise<void>;
  /** SIGTERM: the backend closes its connections at once, as a restarting service does. */
  stop(): Promise<void>;
}

export async function backendProcess(): Promise<BackendProcess> {
  const port = await freePort();
  let running: RunningProcess | undefined;
  const backend: BackendProcess = {
    url: `http://127.0.0.1:${port}`,
    async start() {
      running = startNode(SCRIPT, [String(port)]);
      await running.waitFor(/soak backend listening/, 20_000);
    },
    async stop() {
      const current = running;
      running = undefined;
      await current?.stop('SIGTERM');
    },
  };
  await backend.start();
  return backend;
}
