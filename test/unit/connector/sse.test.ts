import assert from 'node:assert/strict';
import { SseLineTooLongError, SseParser, type SseItem } from '../../../src/connector/sse.ts';

function feed(parser: SseParser, ...chunks: string[]): SseItem[] {
  return chunks.flatMap((chunk) => parser.push(chunk));
}

describe('connector events stream parser', function () {
  it('reads the service events and heartbeat comments', function () {
    const items = feed(new SseParser(1024), 'event: config\ndata: {"version": 8}\n\n: ping\n\nevent: renew\ndata: {}\n\nevent: revoked\n\n');
    assert.deepEqual(items, [
      { kind: 'event', event: { event: 'config', data: '{"version": 8}', id: undefined } },
      { kind: 'comment', text: 'ping' },
      { kind: 'event', event: { event: 'renew', data: '{}', id: undefined } },
      { kind: 'event', event: { event: 'revoked', data: '', id: undefined } },
    ]);
  });

  it('handles any chunking, CRLF and CR line ends, multi-line data, ids and unknown fields', function () {
    const text = 'id: 7\r\nevent: config\r\ndata: a\r\ndata:b\r\nretry: 10\r\nfoo\r\n\r\ndata: plain\r\rdata: x\n\n';
    const expected = [
      { kind: 'event', event: { event: 'config', data: 'a\nb', id: '7' } },
      { kind: 'event', event: { event: 'message', data: 'plain', id: '7' } },
      { kind: 'event', event: { event: 'message', data: 'x', id: '7' } },
    ];
    for (let size = 1; size <= text.length; size++) {
      const chunks: string[] = [];
      for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
      assert.deepEqual(feed(new SseParser(1024), ...chunks), expected, `chunks of ${size}`);
    }
  });

  it('refuses a line longer than its bound, even before the line ends', function () {
    const parser = new SseParser(64);
    assert.throws(() => parser.push(`data: ${'x'.repeat(100)}`), SseLineTooLongError);
    assert.throws(() => new SseParser(64).push(`data: ${'x'.repeat(100)}\n`), SseLineTooLongError);
    assert.deepEqual(new SseParser(64).push(`data: ${'x'.repeat(50)}\n\n`).length, 1);
  });
});
