/**
 * The steady signed-in load: loops of small GETs and POSTs, and a loop of
 * up/down transfers checked by SHA-256, all through one session cookie,
 * each request judged into the tally. They run until `stop()`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Agent } from 'node:https';
import { patternSha256 } from '../../dev/lib/pattern-body.ts';
import { judged, type Target } from './http.ts';
import type { Tally } from './tally.ts';

export interface LoadOptions {
  readonly loops: number;
  readonly transferBytes: number;
  readonly transferLoops: number;
  /** Deadline of one small request, and of one transfer. */
  readonly requestDeadlineMs: number;
  readonly transferDeadlineMs: number;
}

export interface Load {
  stop(): Promise<void>;
}

export function startLoad(target: Omit<Target, 'agent'>, options: LoadOptions, tally: Tally): Load {
  const agent = new Agent({ keepAlive: true, maxSockets: options.loops + options.transferLoops });
  const full: Target = { ...target, agent };
  let running = true;
  const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

  const smallLoop = async (loop: number): Promise<void> => {
    for (let n = 0; running; n++) {
      const item = loop * 1_000_000 + n;
      if (n % 2 === 0) {
        await judged(
          full,
          { kind: 'get', method: 'GET', path: `/api/item/${item}`, deadlineMs: options.requestDeadlineMs, check: ({ text }) => expectJson(text, { item }) },
          tally,
        );
      } else {
        const payload = JSON.stringify({ loop, n, pad: 'x'.repeat(n % 512) });
        await judged(
          full,
          {
            kind: 'post',
            method: 'POST',
            path: '/api/echo',
            body: Buffer.from(payload),
            deadlineMs: options.requestDeadlineMs,
            check: ({ text }) => expectJson(text, { bytes: Buffer.byteLength(payload), echo: payload }),
          },
          tally,
        );
      }
      // Small pause: steady load, not a flood that would measure only the CPU of 2 shared cores.
      await pause(5);
    }
  };

  const transferLoop = async (): Promise<void> => {
    const bytes = options.transferBytes;
    const expected = patternSha256(bytes);
    for (let n = 0; running; n++) {
      if (n % 2 === 0) {
        await judged(
          full,
          {
            kind: 'download',
            method: 'GET',
            path: `/blob/${bytes}`,
            hashOnly: true,
            deadlineMs: options.transferDeadlineMs,
            check: (body) => (body.bytes === bytes && body.sha256 === expected ? undefined : `${body.bytes} bytes, sha256 ${body.sha256.slice(0, 12)}`),
          },
          tally,
        );
      } else {
        const upload = randomBytes(bytes);
        const sha256 = createHash('sha256').update(upload).digest('hex');
        await judged(
          full,
          {
            kind: 'upload',
            method: 'PUT',
            path: '/upload',
            body: upload,
            deadlineMs: options.transferDeadlineMs,
            check: ({ text }) => expectJson(text, { bytes, sha256 }),
          },
          tally,
        );
      }
      await pause(50);
    }
  };

  const loops = [
    ...Array.from({ length: options.loops }, (_, loop) => smallLoop(loop)),
    ...Array.from({ length: options.transferLoops }, () => transferLoop()),
  ];
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}

function expectJson(text: string, expected: Record<string, unknown>): string | undefined {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    for (const [key, value] of Object.entries(expected)) if (body[key] !== value) return `${key} is ${JSON.stringify(body[key])?.slice(0, 60)}`;
    return undefined;
  } catch {
    return `not JSON: ${text.slice(0, 60)}`;
  }
}
