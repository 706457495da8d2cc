import assert from 'node:assert/strict';
import { closestKey, objectKeysAt } from '../../../src/config/issue-messages.ts';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import { gatewayConfigSchema } from '../../../src/config/schema.ts';
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
    assert.ok(error instanceof GatehouseConfigError, String(error));
    return [...error.issues];
  }
  return assert.fail('accepted');
}

describe('config: problems in words an operator can act on', () => {
  it('answers a misspelt key with the nearest key of that object', () => {
    const input = valid();
    input['identityProvider'] = { issuer: 'https://login.example.com', clientID: 'gatehouse', clientSecert: 's3cret' };
    input['apps'] = [
      { id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080', polices: [], identityHeaders: { emial: 'X-Email' } },
    ];
    input['sesion'] = {};
    const issues = issuesOf(input);
    for (const expected of [
      'identityProvider.clientID: unknown key, did you mean "clientId"?',
      'identityProvider.clientSecert: unknown key, did you mean "clientSecret"?',
      'apps[0].polices: unknown key, did you mean "policies"?',
      'sesion: unknown key, did you mean "session"?',
    ]) {
      assert.ok(issues.includes(expected), `${expected} in\n${issues.join('\n')}`);
    }
  });

  it('lists the keys it knows when nothing is close', () => {
    const input = valid();
    input['server'] = { listenAddress: '0.0.0.0' };
    const issues = issuesOf(input);
    assert.equal(issues.length, 1, issues.join('\n'));
    assert.match(issues[0]!, /^server\.listenAddress: unknown key, known keys here: host, port, tls, /);
  });

  it('says "is required" for a missing key, and names the type for a wrong one', () => {
    const input = valid();
    input['identityProvider'] = { issuer: 'https://login.example.com' };
    input['server'] = { port: '8443' };
    assert.deepEqual(issuesOf(input), ['identityProvider.clientId: is required', 'server.port: must be a number, not a string']);
    const { session: _session, ...withoutSession } = valid();
    assert.deepEqual(issuesOf(withoutSession), ['session: is required']);
  });

  it('finds the keys of objects inside lists, maps, defaults and optionals', () => {
    assert.ok(objectKeysAt(gatewayConfigSchema, ['apps', 3]).includes('internalUrl'));
    assert.ok(objectKeysAt(gatewayConfigSchema, ['server', 'tls']).includes('certFile'));
    assert.ok(objectKeysAt(gatewayConfigSchema, ['session', 'secrets', 0]).includes('secretFile'));
    assert.ok(objectKeysAt(gatewayConfigSchema, []).includes('identityProvider'));
    assert.deepEqual(objectKeysAt(gatewayConfigSchema, ['nope']), []);
  });

  it('suggests only what is close enough to be a typo', () => {
    assert.equal(closestKey('clientid', ['clientId', 'clientSecret']), 'clientId');
    assert.equal(closestKey('isuser', ['issuer']), 'issuer');
    assert.equal(closestKey('port', ['host', 'tls']), undefined);
    assert.equal(closestKey('completelydifferent', ['issuer']), undefined);
  });
});

describe('config: a secret a template left as "undefined"', () => {
  it('refuses the client secret "undefined" or "null" instead of sending it to the identity provider', () => {
    for (const clientSecret of ['undefined', 'null', ' undefined\n']) {
      const input = valid();
      input['identityProvider'] = { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret };
      const issues = issuesOf(input);
      assert.equal(issues.length, 1, issues.join('\n'));
      assert.match(issues[0]!, /^identityProvider\.clientSecret: is the text "undefined" or "null": most likely an environment variable that was not set/);
    }
  });
});
