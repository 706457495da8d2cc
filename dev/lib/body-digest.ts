import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

export interface BodyDigest {
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * Reads a request body to its end, keeping only its length and SHA-256: how
 * the demo's, the tests' and the bench's backends check an upload without
 * holding it. Rejects if the body fails (a client that went away).
 */
export async function digestBody(body: Readable): Promise<BodyDigest> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    hash.update(chunk);
  }
  return { bytes, sha256: hash.digest('hex') };
}
