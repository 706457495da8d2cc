/**
 * A flood of requests for the abuse tests: a few concurrent loops, each on
 * its own keep-alive connection, one request after the other, counting what
 * came back.
 */
import { Client } from 'undici';

export interface FloodTarget {
  /** Where to connect: `https://127.0.0.1:<port>`. */
  readonly origin: string;
  readonly ca: string;
  readonly servername?: string;
  readonly host: string;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export interface FloodResult {
  readonly statuses: ReadonlyMap<number, number>;
  readonly retryAfter: ReadonlySet<string>;
  readonly elapsedMs: number;
  /** Milliseconds each refusal (429) took, sorted. */
  readonly refusalMs: readonly number[];
}

/** `count` requests from `loops` concurrent loops, each on its own keep-alive connection, one request after the other. */
export async function flood(target: FloodTarget, count: number, loops: number): Promise<FloodResult> {
  const statuses = new Map<number, number>();
  const retryAfter = new Set<string>();
  const refusalMs: number[] = [];
  let sent = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: loops }, async () => {
      const client = new Client(target.origin, { connect: { ca: target.ca, ...(target.servername ? { servername: target.servername } : {}) } });
      try {
        while (sent < count) {
          sent += 1;
          const at = performance.now();
          const response = await client.request({
            method: target.method,
            path: target.path,
            headers: { host: target.host, accept: 'application/json', ...target.headers },
            ...(target.body !== undefined ? { body: target.body } : {}),
          });
          await response.body.dump();
          statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
          if (response.statusCode === 429) {
            refusalMs.push(performance.now() - at);
            retryAfter.add(String(response.headers['retry-after']));
          }
        }
      } finally {
        await client.close();
      }
    }),
  );
  return { statuses, retryAfter, elapsedMs: performance.now() - started, refusalMs: refusalMs.sort((a, b) => a - b) };
}
