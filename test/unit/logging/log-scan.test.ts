import assert from 'node:assert/strict';
import { findLeaks } from '../../support/log-scan.ts';

describe('logging: the log scan finds what it must', () => {
  it('finds secrets seen in the tests, and JWTs, sealed sessions, keys and bearer credentials by their shape', () => {
    const cookie = 'q9Yx2LmPz0Rt5VbN8cWd';
    const leaks = findLeaks(
      [
        JSON.stringify({ msg: 'request', path: '/a' }),
        JSON.stringify({ msg: 'x', cookie }),
        JSON.stringify({ msg: 'x', t: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXBhcnQ' }),
        JSON.stringify({ msg: 'x', s: 'Fe26.2**abc' }),
        JSON.stringify({ msg: 'x', k: '-----BEGIN PRIVATE KEY-----' }),
        JSON.stringify({ msg: 'x', h: 'Bearer abcdefghijklmnopqrstu' }),
      ],
      [cookie],
    );
    assert.deepEqual(leaks, [
      'a secret seen in the test in cookie of "x"',
      'a JWT in t of "x"',
      'a sealed session in s of "x"',
      'a private key in k of "x"',
      'a bearer credential in h of "x"',
    ]);
  });
});
