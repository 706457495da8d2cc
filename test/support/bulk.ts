import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

const BLOCK = 64 * 1024;
const PATTERN = Buffer.alloc(BLOCK);
for (let offset = 0; offset < BLOCK; offset += 32) {
  createHash('sha256').update(`gatehouse-bulk-${offset}`).digest().copy(PATTERN, offset);
}

/** `bytes` of deterministic data; each 64 KiB block carries its index, so a lost or repeated block changes the hash. */
export function bulkStream(bytes: number): Readable {
  let sent = 0;
  let index = 0;
  return new Readable({
    highWaterMark: BLOCK * 4,
    read() {
      while (sent < bytes) {
        const size = Math.min(BLOCK, bytes - sent);
        const block = Buffer.from(PATTERN.subarray(0, size));
        if (size >= 8) block.writeBigUInt64BE(BigInt(index), 0);
        sent += size;
        index += 1;
        if (!this.push(block)) return;
      }
      this.push(null);
    },
  });
}

/** The SHA-256 of bulkStream(bytes), computed the same way. */
export async function bulkHash(bytes: number): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of bulkStream(bytes)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
