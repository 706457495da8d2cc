import assert from 'node:assert/strict';
import { safeReturnTo } from '../../../src/signin/return-to.ts';

const ORIGIN = 'https://wiki.example.com';

describe('safeReturnTo', () => {
  it('keeps same-origin paths and queries', () => {
    assert.equal(safeReturnTo('/', ORIGIN), '/');
    assert.equal(safeReturnTo('/docs/page?x=1&y=%20z', ORIGIN), '/docs/page?x=1&y=%20z');
    assert.equal(safeReturnTo('https://wiki.example.com/a/b', ORIGIN), '/a/b');
    assert.equal(safeReturnTo('/a/../b', ORIGIN), '/b');
  });

  for (const hostile of [
    '//evil.example',
    '//evil.example/path',
    '/\\evil.example',
    '\\\\evil.example',
    '%2F%2Fevil.example',
    '/%2F/evil.example',
    'https:evil.example',
    'https://evil.example/',
    'http://wiki.example.com/',
    'https://wiki.example.com.evil.example/',
    'https://wiki.example.com@evil.example/',
    'javascript:alert(1)',
    'JAVASCRIPT:alert(1)',
    'data:text/html,hi',
    '/ok\r\nSet-Cookie: x=y',
    '/ok%0d%0aSet-Cookie:%20x=y',
    '/ok\u0000',
    '/ok%5cevil',
    'relative/path',
    '',
    `/${'a'.repeat(3000)}`,
    '/.//evil.example',
  ]) {
    it(`refuses ${JSON.stringify(hostile.slice(0, 60))}`, () => {
      const result = safeReturnTo(hostile, ORIGIN);
      if (result !== undefined) {
        // A few forms normalize to a harmless same-origin path; never to another host.
        assert.equal(new URL(result, ORIGIN).origin, ORIGIN);
        assert.ok(!result.startsWith('//'), result);
        assert.fail(`accepted ${JSON.stringify(hostile)} as ${result}`);
      }
    });
  }
});
