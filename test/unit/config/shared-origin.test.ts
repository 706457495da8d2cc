import assert from 'node:assert/strict';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import { sharedOriginWarnings } from '../../../src/config/shared-origin-warnings.ts';

const base = {
  identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse' },
  session: { secrets: [{ id: 1, secret: 'a-test-secret-that-is-long-enough-0123456789' }] },
};

function warningsFor(apps: Array<Record<string, unknown>>): string[] {
  return sharedOriginWarnings(parseGatewayConfig({ ...base, apps }));
}

describe('config: a pass-through app in front of a protected app’s backend', () => {
  it('warns, naming both apps, the origin and the fix', () => {
    const warnings = warningsFor([
      { id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080/' },
      { id: 'status', externalUrl: 'https://status.example.com', internalUrl: 'http://10.0.0.5:8080/status', preauth: 'passthrough' },
    ]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^apps "status" \(pass-through\) and "wiki" \(pre-authenticated\) reach the same internal origin http:\/\/10\.0\.0\.5:8080: /);
    assert.match(warnings[0]!, /Serve the open part from its own origin/);
  });

  it('sees through spellings of the same origin (case, default port)', () => {
    const warnings = warningsFor([
      { id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'https://App.Internal.example' },
      { id: 'open', externalUrl: 'https://open.example.com', internalUrl: 'https://app.internal.example:443/public', preauth: 'passthrough' },
    ]);
    assert.equal(warnings.length, 1);
  });

  it('takes every spelling of the gateway’s own machine for one host (localhost, 127.0.0.0/8, ::1, 0.0.0.0)', () => {
    for (const spelling of [
      'http://localhost:3000',
      'http://127.0.0.2:3000',
      'http://[::1]:3000',
      'http://0.0.0.0:3000',
      'http://app.localhost:3000',
      'http://127.1:3000',
    ]) {
      const warnings = warningsFor([
        { id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://127.0.0.1:3000' },
        { id: 'status', externalUrl: 'https://status.example.com', internalUrl: `${spelling}/status`, preauth: 'passthrough' },
      ]);
      assert.equal(warnings.length, 1, spelling);
      if (spelling !== 'http://127.1:3000') assert.match(warnings[0]!, /\(written http:\/\/127\.0\.0\.1:3000 for "wiki"\)/, spelling);
    }
    assert.deepEqual(
      warningsFor([
        { id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://127.0.0.1:3000' },
        { id: 'status', externalUrl: 'https://status.example.com', internalUrl: 'http://localhost:3001', preauth: 'passthrough' },
      ]),
      [],
    );
  });

  it('is quiet for different ports, hosts or schemes, and among pre-authenticated apps', () => {
    assert.deepEqual(
      warningsFor([
        { id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' },
        { id: 'other', externalUrl: 'https://other.example.com', internalUrl: 'http://10.0.0.5:8080' },
        { id: 'status', externalUrl: 'https://status.example.com', internalUrl: 'http://10.0.0.5:8081', preauth: 'passthrough' },
        { id: 'docs', externalUrl: 'https://docs.example.com', internalUrl: 'https://10.0.0.5:8080', preauth: 'passthrough' },
      ]),
      [],
    );
  });
});
