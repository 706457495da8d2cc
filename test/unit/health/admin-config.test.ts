import assert from 'node:assert/strict';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import { GatehouseConfigError } from '../../../src/errors/index.ts';
import { formatListenAddress, parseListenAddress } from '../../../src/health/listen-address.ts';

const SECRET = 'a-very-long-session-secret-of-at-least-32-chars';

function withAdmin(admin: unknown): Record<string, unknown> {
  return {
    identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret: 's3cret' },
    session: { secrets: [{ id: 1, secret: SECRET }] },
    apps: [{ id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' }],
    ...(admin === undefined ? {} : { admin }),
  };
}

function issuesOf(input: unknown): string[] {
  try {
    parseGatewayConfig(input);
  } catch (error) {
    assert.ok(error instanceof GatehouseConfigError);
    return [...error.issues];
  }
  assert.fail('config was accepted');
}

describe('admin listener configuration', () => {
  it('takes "host:port" or { host, port }, and is absent unless given', () => {
    assert.equal(parseGatewayConfig(withAdmin(undefined)).admin, undefined);
    assert.deepEqual(parseGatewayConfig(withAdmin({ listen: '127.0.0.1:9100' })).admin, { listen: { host: '127.0.0.1', port: 9100 } });
    assert.deepEqual(parseGatewayConfig(withAdmin({ listen: '[::1]:9100' })).admin?.listen, { host: '::1', port: 9100 });
    assert.deepEqual(parseGatewayConfig(withAdmin({ listen: { host: '10.0.0.2', port: 0 } })).admin?.listen, { host: '10.0.0.2', port: 0 });
    assert.ok(Object.isFrozen(parseGatewayConfig(withAdmin({ listen: ':9100' })).admin));
  });

  it('refuses what is not an address, and unknown keys', () => {
    assert.deepEqual(issuesOf(withAdmin({ listen: '9100' })), ['admin.listen: "9100" is not host:port, e.g. "127.0.0.1:9100" or "[::1]:9100"']);
    assert.equal(issuesOf(withAdmin({ listen: 'localhost:70000' })).length, 1);
    assert.match(issuesOf(withAdmin({ listen: '127.0.0.1:9100', port: 1 }))[0] ?? '', /^admin\b.*\bport\b/);
    assert.match(issuesOf(withAdmin({}))[0] ?? '', /^admin\.listen/);
  });

  it('reads admin.tls like server.tls', () => {
    assert.match(
      issuesOf(withAdmin({ listen: '127.0.0.1:9100', tls: { certFile: '/nonexistent/cert.pem', keyFile: '/nonexistent/key.pem' } }))[0] ?? '',
      /admin\.tls\.certFile: cannot read/,
    );
  });

  it('parses and prints listen addresses', () => {
    assert.deepEqual(parseListenAddress(':9101'), { host: '0.0.0.0', port: 9101 });
    assert.deepEqual(parseListenAddress('metrics.internal:9101'), { host: 'metrics.internal', port: 9101 });
    assert.equal(typeof parseListenAddress('127.0.0.1'), 'string');
    assert.equal(typeof parseListenAddress('[::1]'), 'string');
    assert.equal(formatListenAddress({ host: '::1', port: 9101 }), '[::1]:9101');
    assert.equal(formatListenAddress({ host: '127.0.0.1', port: 9101 }), '127.0.0.1:9101');
  });
});
