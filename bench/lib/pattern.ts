/**
 * A deterministic body for bulk transfers: 64 KiB blocks of seeded bytes,
 * each stamped with its index, so that a lost, repeated or reordered block
 * changes the SHA-256 and both ends can check it without storing the body.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

export const BLOCK_BYTES = 64 * 1024;
const BASE = makeBase();

function makeBase(): Buffer {
  const block = Buffer.allocUnsafe(BLOCK_BYTES);
  let x = 0x9e3779b9;
  for (let i = 0; i < BLOCK_BYTES; i++) {
    // xorshift32
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    block[i] = x & 0xff;
  }
  return block;
}

/** The pattern's chunks for a body of `bytes` bytes (each a fresh buffer: streams may hold on to them). */
export function* patternChunks(bytes: number): Generator<Buffer> {
  let index = 0;
  for (let sent = 0; sent < bytes; sent += BLOCK_BYTES, index++) {
    const size = Math.min(BLOCK_BYTES, bytes - sent);
    const chunk = Buffer.allocUnsafe(size);
    BASE.copy(chunk, 0, 0, size);
    if (size >= 8) chunk.writeBigUInt64BE(BigInt(index), 0);
    yield chunk;
  }
}

export function patternStream(bytes: number): Readable {
  return Readable.from(patternChunks(bytes), { objectMode: false, highWaterMark: BLOCK_BYTES * 4 });
}

const hashes = new Map<number, string>();

/** The SHA-256 (hex) of the pattern body of `bytes` bytes. */
export function patternSha256(bytes: number): string {
  let known = hashes.get(bytes);
  if (known === undefined) {
    const hash = createHash('sha256');
    for (const chunk of patternChunks(bytes)) hash.update(chunk);
    known = hash.digest('hex');
    hashes.set(bytes, known);
  }
  return known;
}
