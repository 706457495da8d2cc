/**
 * Deterministic bodies for bulk transfers, in tests, the benchmark and the
 * endurance test. Byte p of every body depends on p alone: 64 KiB blocks of
 * fixed pseudo-random bytes, each starting with its index (8 bytes, big
 * endian). So a lost, repeated or reordered block changes the SHA-256, both
 * ends can check a body of any size without storing it, and any range of a
 * body can be sent on its own (a download resumed half-way, say).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

export const PATTERN_BLOCK_BYTES = 64 * 1024;
const INDEX_BYTES = 8;
const BASE = makeBase();

function makeBase(): Buffer {
  const block = Buffer.allocUnsafe(PATTERN_BLOCK_BYTES);
  let x = 0x9e3779b9;
  for (let i = 0; i < PATTERN_BLOCK_BYTES; i++) {
    // xorshift32: cheap, and not a run of one byte that a compressing layer could shrink.
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    block[i] = x & 0xff;
  }
  return block;
}

/**
 * The bytes [start, end) of the pattern, in chunks of at most `chunkBytes`
 * that never straddle a block. Each chunk is a fresh buffer: streams may hold
 * on to them.
 */
export function* patternChunks(end: number, start = 0, chunkBytes = PATTERN_BLOCK_BYTES): Generator<Buffer> {
  const index = Buffer.alloc(INDEX_BYTES);
  for (let position = start; position < end;) {
    const offset = position % PATTERN_BLOCK_BYTES;
    const size = Math.min(chunkBytes, end - position, PATTERN_BLOCK_BYTES - offset);
    const chunk = Buffer.allocUnsafe(size);
    BASE.copy(chunk, 0, offset, offset + size);
    if (offset < INDEX_BYTES) {
      index.writeBigUInt64BE(BigInt(Math.floor(position / PATTERN_BLOCK_BYTES)), 0);
      index.copy(chunk, 0, offset, Math.min(INDEX_BYTES, offset + size));
    }
    position += size;
    yield chunk;
  }
}

/** The bytes [start, end) of the pattern as a stream: a body of `end` bytes when `start` is 0. */
export function patternStream(end: number, start = 0, chunkBytes = PATTERN_BLOCK_BYTES): Readable {
  return Readable.from(patternChunks(end, start, chunkBytes), { objectMode: false, highWaterMark: PATTERN_BLOCK_BYTES * 4 });
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
