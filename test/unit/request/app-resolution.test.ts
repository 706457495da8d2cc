import assert from 'node:assert/strict';
import { normalizeHost } from '../../../src/request/app-resolution.ts';

describe('normalizeHost', () => {
  it('normalizes case, trailing dots and keeps ports', () => {
    assert.equal(normalizeHost('Wiki.Example.COM'), 'wiki.example.com');
    assert.equal(normalizeHost('wiki.example.com.'), 'wiki.example.com');
    assert.equal(normalizeHost('wiki.example.com.:8443'), 'wiki.example.com:8443');
    assert.equal(normalizeHost('[::1]:8080'), '[::1]:8080');
  });

  it('refuses anything that is not a host', () => {
    for (const bad of ['', 'a b', 'wiki.example.com/evil', 'user@wiki.example.com', 'wiki..example.com', '-x.example', 'x:99999999', 'x\r\ny']) {
      assert.equal(normalizeHost(bad), undefined, bad);
    }
  });
});
