import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import { PATTERN_BLOCK_BYTES, patternChunks, patternSha256, patternStream } from '../../dev/lib/pattern-body.ts';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('pattern body', () => {
  const size = 3 * PATTERN_BLOCK_BYTES + 12_345;

  it('is the same body whatever the chunk size, and patternSha256 is its hash', async () => {
    const whole = await buffer(patternStream(size));
    assert.equal(whole.length, size);
    assert.equal(sha256(whole), patternSha256(size));
    assert.deepEqual(await buffer(patternStream(size, 0, 7_000)), whole);
    assert.ok([...patternChunks(size, 0, 7_000)].every((chunk) => chunk.length <= 7_000));
  });

  it('sends any range of a body on its own: byte p depends on p alone', async () => {
    const whole = await buffer(patternStream(size));
    for (const start of [1, 5, PATTERN_BLOCK_BYTES - 3, PATTERN_BLOCK_BYTES + 4, size - 1]) {
      assert.deepEqual(await buffer(patternStream(size, start)), whole.subarray(start), `from ${start}`);
    }
    assert.deepEqual(await buffer(patternStream(PATTERN_BLOCK_BYTES + 3)), whole.subarray(0, PATTERN_BLOCK_BYTES + 3), 'a shorter body is a prefix');
  });

  it('changes its hash when a block is lost or two are swapped (each block carries its index)', () => {
    const blocks = [...patternChunks(4 * PATTERN_BLOCK_BYTES)];
    const hashOf = (parts: Buffer[]): string => sha256(Buffer.concat(parts));
    const [first, second, third, fourth] = blocks as [Buffer, Buffer, Buffer, Buffer];
    assert.notEqual(hashOf([first, third, second, fourth]), patternSha256(4 * PATTERN_BLOCK_BYTES));
    assert.notEqual(hashOf([first, first, third, fourth]), patternSha256(4 * PATTERN_BLOCK_BYTES));
    assert.notDeepEqual(first.subarray(8), Buffer.alloc(PATTERN_BLOCK_BYTES - 8, first[8]), 'not one repeated byte');
  });
});
