import assert from 'node:assert/strict';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { WriteAhead } from '../../../src/connector/write-ahead.ts';

describe('WriteAhead: what arrives while the session is not reading', () => {
  it('is handed over in one chunk when the session reads again, in order', async () => {
    const transport = new PassThrough();
    const ahead = new WriteAhead(transport);
    const received: Buffer[] = [];
    ahead.on('data', (chunk: Buffer) => received.push(chunk));
    transport.write(Buffer.from('first.'));
    await nextTurn();
    assert.deepEqual(received.map(String), ['first.'], 'while the session reads, each chunk goes through at once');

    // As Node's session does while one of its writes is pending.
    ahead.pause();
    for (const part of ['a', 'b', 'c']) transport.write(Buffer.from(part));
    await nextTurn();
    assert.equal(received.length, 1);
    ahead.resume();
    await nextTurn();
    assert.deepEqual(received.map(String), ['first.', 'abc']);
    ahead.destroy();
  });

  it('stops reading its transport once it holds a megabyte or two, and reads on once that was taken', async () => {
    const transport = new PassThrough({ highWaterMark: 1 });
    const ahead = new WriteAhead(transport);
    let bytes = 0;
    ahead.on('data', (chunk: Buffer) => (bytes += chunk.length));
    ahead.pause();
    const chunk = Buffer.alloc(256 * 1024);
    for (let n = 0; n < 16; n++) transport.write(chunk);
    await nextTurn();
    assert.equal(transport.isPaused(), true, 'the transport is paused');
    // A megabyte held, and one more in the stream's own buffer (Readable reads ahead up to its mark, in one chunk).
    const taken = 16 * chunk.length - (transport.readableLength + transport.writableLength);
    assert.ok(taken <= 2 * 1024 * 1024 + chunk.length, `took ${taken} bytes ahead of the session`);
    ahead.resume();
    for (let turns = 0; turns < 50 && bytes < 16 * chunk.length; turns++) await nextTurn();
    assert.equal(bytes, 16 * chunk.length);
    ahead.destroy();
  });

  it('closes once the session has taken what it held when the transport ends', async () => {
    const transport = new PassThrough();
    const ahead = new WriteAhead(transport);
    const received: string[] = [];
    ahead.on('data', (chunk: Buffer) => received.push(String(chunk)));
    ahead.pause();
    transport.end(Buffer.from('last GOAWAY'));
    await nextTurn();
    assert.equal(ahead.destroyed, false, 'not closed while it still holds data');
    const closed = once(ahead, 'close');
    ahead.resume();
    await closed;
    assert.deepEqual(received, ['last GOAWAY']);
  });
});
