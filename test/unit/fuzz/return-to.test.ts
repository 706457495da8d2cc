import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_RETURN_URL_LENGTH } from '../../../src/limits.ts';
import { safeReturnTo } from '../../../src/signin/return-to.ts';
import { fuzzTimeout, runs } from '../../support/fuzz-runs.ts';

/**
 * The return URL of a sign-in comes from the client (the `returnTo` parameter, a target seen before sign-in). Whatever
 * it holds, what Gatehouse redirects to afterwards (`${origin}${path}`) stays on the app's origin, in a browser's
 * reading and in a backend's that decodes the path once.
 */

const ORIGINS = ['https://wiki.example.com', 'https://ci.example.com:8443', 'http://localhost:3000'] as const;

/** Pieces open redirects are made of. */
const PIECE = fc.constantFrom(
  '/',
  '//',
  '/\\',
  '\\',
  '\\\\',
  '\t',
  '\n',
  '\r',
  ' ',
  '\u0000',
  '%2f',
  '%2F',
  '%5c',
  '%5C',
  '%09',
  '%0a',
  '%252f',
  'evil.example',
  'evil.example:443',
  '@',
  'user:pass@',
  'https:',
  'http:',
  'javascript:',
  'data:',
  'https://wiki.example.com',
  'https://wiki.example.com.evil.example',
  'https://wiki.example.com@evil.example',
  'https://ci.example.com:8443',
  'http://localhost:3000',
  ':443',
  '.',
  '..',
  '?',
  '#',
  '?next=//evil.example',
  '\uff0f',
  '\u2044',
  '\u3002',
  'ｅｖｉｌ',
  'a',
  'path',
);

const CANDIDATE = fc.oneof(
  { weight: 4, arbitrary: fc.array(PIECE, { minLength: 1, maxLength: 7 }).map((pieces) => pieces.join('')) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
  { weight: 1, arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true }) },
  { weight: 1, arbitrary: fc.webPath().map((path) => (path.startsWith('/') ? path : `/${path}`)) },
);

describe('fuzz: sign-in return URLs', function () {
  this.timeout(fuzzTimeout(30_000));

  it('the redirect built from any candidate stays on the origin, and never throws', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ORIGINS), CANDIDATE, (origin, candidate) => {
        const path = safeReturnTo(candidate, origin);
        if (path === undefined) return;
        assert.ok(path.length <= MAX_RETURN_URL_LENGTH + origin.length);
        assert.ok(path.startsWith('/'), path);
        // Protocol-relative to a browser, or to a backend that decodes once: never.
        assert.doesNotMatch(path, /^\/(?:\/|\\|%2f|%5c)/i);
        // eslint-disable-next-line no-control-regex -- matching control characters is the point
        assert.doesNotMatch(path, /[\u0000-\u001f\u007f\\]/);
        const redirect = new URL(`${origin}${path}`);
        assert.equal(redirect.origin, origin, `${JSON.stringify(candidate)} → ${path}`);
        assert.equal(new URL(path, origin).origin, origin);
        // Decoded once, it is still a path on the same origin.
        let decoded: string;
        try {
          decoded = decodeURIComponent(path);
        } catch {
          return;
        }
        assert.ok(!decoded.startsWith('//') && !decoded.startsWith('/\\'), decoded);
      }),
      runs(2500),
    );
  });

  it('a same-origin path comes back as itself (not everything is refused)', () => {
    const segment = fc.stringMatching(/^[a-z0-9_-]{1,8}$/);
    fc.assert(
      fc.property(
        fc.constantFrom(...ORIGINS),
        fc.array(segment, { minLength: 1, maxLength: 5 }),
        fc.option(segment, { nil: undefined }),
        (origin, segments, query) => {
          const path = `/${segments.join('/')}${query === undefined ? '' : `?q=${query}`}`;
          assert.equal(safeReturnTo(path, origin), path);
          assert.equal(safeReturnTo(`${origin}${path}`, origin), path);
        },
      ),
      runs(300),
    );
  });
});
