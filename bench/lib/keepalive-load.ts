/**
 * The load the CPU-per-request scripts drive: keep-alive GETs of one 1 KiB
 * body over a fixed number of sockets, each answer checked, so a figure is
 * never of requests that failed.
 */
import { Agent, request, type IncomingMessage } from 'node:http';

/** What the scripts' origin answers to every request. */
export const BODY = Buffer.alloc(1024, 'x');

/** `total` keep-alive GETs over `connections` sockets; rejects on anything but 200 with the whole body. */
export async function keepAliveLoad(url: string, connections: number, total: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  let left = total;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = request(url, { agent }, (res: IncomingMessage) => {
        let length = 0;
        res.on('data', (chunk: Buffer) => (length += chunk.length));
        res.once('end', () => (res.statusCode === 200 && length === BODY.length ? resolve() : reject(new Error(`status ${res.statusCode}, ${length} bytes`))));
      });
      req.once('error', reject);
      req.end();
    });
  const worker = async (): Promise<void> => {
    while (left > 0) {
      left--;
      await one();
    }
  };
  try {
    await Promise.all(Array.from({ length: connections }, worker));
  } finally {
    agent.destroy();
  }
}

/** The middle value (the upper one of an even count). */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
