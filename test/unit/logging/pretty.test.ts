import assert from 'node:assert/strict';
import { createLogger } from '../../../src/logging/logger.ts';
import { formatPretty } from '../../../src/logging/pretty.ts';

describe('logging: formats', () => {
  function written(format: 'json' | 'pretty', log: (logger: ReturnType<typeof createLogger>) => void): string[] {
    const out: string[] = [];
    log(createLogger({ level: 'info', format, destination: { write: (line: string) => void out.push(line) } }));
    return out;
  }

  it('json: ISO time, level names, secrets redacted', () => {
    const [line] = written('json', (logger) => logger.warn({ req: { headers: { cookie: 'gatehouse_session=abc' } }, clientSecret: 'shh' }, 'hello'));
    const record = JSON.parse(line ?? '') as Record<string, unknown>;
    assert.equal(record['level'], 'warn');
    assert.match(String(record['time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.doesNotMatch(line ?? '', /abc|shh/);
  });

  it('pretty: time, level, message, then key=value, redacted before formatting', () => {
    const [line] = written('pretty', (logger) => logger.info({ app: 'wiki', status: 200, nested: { a: 1 }, token: 'secret-token' }, 'request'));
    assert.match(line ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {2}request app=wiki status=200 nested=\{"a":1\} token=\[redacted\]\n$/);
  });

  it('pretty: a value cannot forge a field or a line', () => {
    const line = formatPretty(JSON.stringify({ time: 't', level: 'info', msg: 'a\nb', path: '/x y=1\n2', n: 1 }));
    assert.equal(line, 't INFO  "a\\nb" path="/x y=1\\n2" n=1\n');
    assert.equal(line.split('\n').length, 2);
  });

  it('pretty: an error with its stack on the lines below; a line that is not JSON passes as it is', () => {
    const line = formatPretty(
      JSON.stringify({ time: 't', level: 'error', msg: 'failed', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x' } }),
    );
    assert.equal(line, 't ERROR failed err={"type":"Error","message":"boom"}\n    Error: boom\n        at x\n');
    assert.equal(formatPretty('not json'), 'not json\n');
  });
});
