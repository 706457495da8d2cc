import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadGatewayConfigFile } from '../../../src/config/load-file.ts';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import { GatehouseConfigError } from '../../../src/errors/index.ts';

const SECRET = 'a-very-long-session-secret-of-at-least-32-chars';

function valid(): Record<string, unknown> {
  return {
    identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret: 's3cret' },
    session: { secrets: [{ id: 1, secret: SECRET }] },
    apps: [{ id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' }],
  };
}

function issuesOf(input: unknown): string[] {
  try {
    parseGatewayConfig(input);
  } catch (error) {
    assert.ok(error instanceof GatehouseConfigError, `expected GatehouseConfigError, got ${String(error)}`);
    assert.equal(error.code, 'ERR_INVALID_CONFIG');
    return [...error.issues];
  }
  assert.fail('config was accepted');
}

describe('configuration', () => {
  it('applies defaults and freezes the result', () => {
    const config = parseGatewayConfig(valid());
    assert.equal(config.apps[0]?.preauth, 'oidc');
    assert.equal(config.apps[0]?.connectorGroup, 'default');
    assert.equal(config.apps[0]?.timeouts.backend, 85);
    assert.equal(config.session.maxLifetime, 8 * 3600);
    assert.equal(config.session.persistent, false);
    assert.deepEqual(config.identityProvider.scopes, ['openid', 'profile', 'email']);
    assert.equal(config.identityProvider.clockToleranceSeconds, 30);
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.apps[0]));
  });

  it('parses durations and the "long" backend timeout', () => {
    const input = valid();
    input['session'] = { secrets: [{ id: 1, secret: SECRET }], maxLifetime: '2h', idleTimeout: '15m' };
    (input['apps'] as Array<Record<string, unknown>>)[0]!['timeouts'] = { backend: 'long' };
    const config = parseGatewayConfig(input);
    assert.equal(config.session.maxLifetime, 7200);
    assert.equal(config.session.idleTimeout, 900);
    assert.equal(config.apps[0]?.timeouts.backend, 180);
  });

  it('names the key and the reason for each mistake', () => {
    const input = valid();
    input['apps'] = [
      { id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' },
      { id: 'Bad Id', externalUrl: 'http://public.example.com', internalUrl: 'ftp://x' },
      { id: 'wiki', externalUrl: 'https://wiki.example.com/path', internalUrl: 'http://10.0.0.6' },
    ];
    input['session'] = { secrets: [{ id: 1, secret: 'short' }] };
    input['trustedProxies'] = ['10.0.0.0/33'];
    input['extra'] = true;
    const issues = issuesOf(input);
    const has = (prefix: string, fragment: string): void =>
      assert.ok(
        issues.some((issue) => issue.startsWith(prefix) && issue.includes(fragment)),
        `no issue "${prefix} … ${fragment}" in:\n${issues.join('\n')}`,
      );
    has('apps[1].id:', 'lowercase');
    has('apps[1].externalUrl:', 'must use https');
    has('apps[1].internalUrl:', 'http(s) URL');
    has('apps[2].externalUrl:', 'origin only');
    has('apps[2].id:', 'duplicate app id "wiki"');
    has('session.secrets[0].secret:', 'at least 32');
    has('trustedProxies[0]:', 'CIDR');
    has('extra:', 'unknown key');
  });

  it('refuses an http issuer, a missing openid scope and a duplicate host', () => {
    const input = valid();
    input['identityProvider'] = { issuer: 'http://login.example.com', clientId: 'x', scopes: ['profile'] };
    input['apps'] = [
      { id: 'a', externalUrl: 'https://same.example.com', internalUrl: 'http://10.0.0.5' },
      { id: 'b', externalUrl: 'https://SAME.example.com:443', internalUrl: 'http://10.0.0.6' },
    ];
    const issues = issuesOf(input);
    assert.ok(issues.some((i) => i.startsWith('identityProvider.issuer:') && i.includes('https')));
    assert.ok(issues.some((i) => i.startsWith('identityProvider.scopes:') && i.includes('openid')));
    assert.ok(issues.some((i) => i.startsWith('apps[1].externalUrl:') && i.includes('already used by app "a"')));
  });

  it('refuses two apps on one host name with different ports: cookies are not scoped by port', () => {
    const input = valid();
    input['apps'] = [
      { id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5' },
      { id: 'admin', externalUrl: 'https://Wiki.Example.com:8443', internalUrl: 'http://10.0.0.6' },
    ];
    const issues = issuesOf(input);
    assert.ok(
      issues.some(
        (i) =>
          i ===
          'apps[1].externalUrl: host "wiki.example.com" is already used by app "wiki" (apps[0]); cookies are not scoped by port: give each app its own host name',
      ),
      issues.join('\n'),
    );
  });

  it('refuses an external URL whose host name ends with a dot: requests are matched without it, so the app could not be reached', () => {
    const input = valid();
    input['apps'] = [
      { id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5' },
      { id: 'admin', externalUrl: 'https://wiki.example.com.:8443', internalUrl: 'http://10.0.0.6' },
    ];
    const issues = issuesOf(input);
    assert.ok(issues.includes('apps[1].externalUrl: must name the host without a trailing dot, e.g. "https://wiki.example.com:8443"'), issues.join('\n'));
  });

  it('accepts plain http external URLs for localhost only', () => {
    const input = valid();
    input['apps'] = [{ id: 'dev', externalUrl: 'http://dev.localhost:8080', internalUrl: 'http://127.0.0.1:3000' }];
    assert.equal(parseGatewayConfig(input).apps[0]?.externalUrl, 'http://dev.localhost:8080');
  });

  describe('files', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'gatehouse-config-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('loads YAML with secrets in files relative to the config', () => {
      writeFileSync(join(dir, 'session.key'), `${SECRET}\n`);
      writeFileSync(join(dir, 'client.secret'), 'client-secret\n');
      writeFileSync(
        join(dir, 'gatehouse.yaml'),
        `identityProvider:
  issuer: https://login.example.com
  clientId: gatehouse
  clientSecretFile: client.secret
session:
  secrets:
    - id: 2
      secretFile: session.key
apps:
  - id: wiki
    externalUrl: https://wiki.example.com
    internalUrl: http://10.0.0.5:8080
    preauth: passthrough
`,
      );
      const config = loadGatewayConfigFile(join(dir, 'gatehouse.yaml'));
      assert.equal(config.identityProvider.clientSecret, 'client-secret');
      assert.equal(config.session.secrets[0]?.secret, SECRET);
      assert.equal(config.apps[0]?.preauth, 'passthrough');
    });

    it('loads JSON and reports a missing secret file by key', () => {
      const input = valid();
      input['session'] = { secrets: [{ id: 1, secretFile: 'nope.key' }] };
      writeFileSync(join(dir, 'gatehouse.json'), JSON.stringify(input));
      assert.throws(
        () => loadGatewayConfigFile(join(dir, 'gatehouse.json')),
        (error: unknown) =>
          error instanceof GatehouseConfigError && /session\.secrets\[0\]\.secretFile: cannot read "nope\.key" \(ENOENT\)/.test(error.message),
      );
    });

    it('reports YAML syntax errors and duplicate keys without a stack trace', () => {
      writeFileSync(join(dir, 'bad.yaml'), 'apps:\n  - id: a\n    id: b\n');
      assert.throws(
        () => loadGatewayConfigFile(join(dir, 'bad.yaml')),
        (error: unknown) => error instanceof GatehouseConfigError && error.message.includes('not valid YAML'),
      );
    });
  });
});
