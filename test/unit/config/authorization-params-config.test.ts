import assert from 'node:assert/strict';
import { OWNED_AUTHORIZATION_PARAMS } from '../../../src/config/authorization-params-schema.ts';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import { GatehouseConfigError } from '../../../src/errors/index.ts';
import { MAX_AUTHORIZATION_PARAM_NAME_CHARS, MAX_AUTHORIZATION_PARAM_VALUE_CHARS, MAX_AUTHORIZATION_PARAMS } from '../../../src/limits.ts';

const BASE = {
  identityProvider: { issuer: 'https://idp.example.com', clientId: 'gatehouse' },
  session: { secrets: [{ id: 1, secret: 'test-session-secret-number-one-0123456789abcdef' }] },
  apps: [{ id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' }],
};

function withParams(authorizationParams: unknown) {
  return parseGatewayConfig({ ...BASE, identityProvider: { ...BASE.identityProvider, authorizationParams } });
}

function problems(authorizationParams: unknown): string {
  try {
    withParams(authorizationParams);
  } catch (error) {
    assert.ok(error instanceof GatehouseConfigError);
    return error.message;
  }
  assert.fail('expected the configuration to be refused');
}

const many = (count: number): Record<string, string> => Object.fromEntries(Array.from({ length: count }, (_, index) => [`p${index}`, 'v']));

describe('config: identityProvider.authorizationParams', () => {
  it('defaults to none, and takes the parameters providers document', () => {
    assert.deepEqual(parseGatewayConfig(BASE).identityProvider.authorizationParams, {});
    const params = {
      access_type: 'offline',
      prompt: 'consent',
      domain_hint: 'example.com',
      idp: '0oa1b2c3',
      audience: 'https://api.example.com',
      connection: 'corp-ad',
    };
    assert.deepEqual(withParams(params).identityProvider.authorizationParams, params);
    assert.deepEqual(withParams(many(MAX_AUTHORIZATION_PARAMS)).identityProvider.authorizationParams, many(MAX_AUTHORIZATION_PARAMS));
  });

  it('refuses every parameter Gatehouse writes itself, in any case, naming the key', () => {
    for (const name of [...OWNED_AUTHORIZATION_PARAMS, 'State', 'REDIRECT_URI', 'Code_Challenge']) {
      assert.match(
        problems({ access_type: 'offline', [name]: 'x' }),
        new RegExp(`identityProvider\\.authorizationParams\\.${name}: "${name}" cannot be set here`),
        name,
      );
    }
    for (const name of [
      'state',
      'nonce',
      'code_challenge',
      'code_challenge_method',
      'redirect_uri',
      'response_type',
      'client_id',
      'scope',
      'request',
      'request_uri',
      'response_mode',
    ]) {
      assert.ok(OWNED_AUTHORIZATION_PARAMS.includes(name), `${name} is owned`);
    }
    assert.match(problems({ scope: 'openid offline_access' }), /identityProvider\.scopes/, 'scopes have their own key');
  });

  it('refuses names that are not parameter names, empty or overlong values, control characters, non-strings, and too many', () => {
    assert.match(problems({ 'access type': 'offline' }), /authorizationParams\.access type: "access type" is not a parameter name/);
    assert.match(problems({ 'a&b=c': 'x' }), /is not a parameter name/);
    assert.match(problems({ '': 'x' }), /is not a parameter name/);
    assert.match(problems({ ['a'.repeat(MAX_AUTHORIZATION_PARAM_NAME_CHARS + 1)]: 'x' }), /is not a parameter name/);
    assert.ok(withParams({ ['a'.repeat(MAX_AUTHORIZATION_PARAM_NAME_CHARS)]: 'x' }));
    assert.match(problems({ prompt: '' }), /authorizationParams\.prompt: must not be empty/);
    assert.match(problems({ prompt: 'x'.repeat(MAX_AUTHORIZATION_PARAM_VALUE_CHARS + 1) }), /authorizationParams\.prompt: must be at most 512 characters/);
    assert.match(problems({ login_hint: 'a\r\nb' }), /authorizationParams\.login_hint: must not contain control characters/);
    assert.match(problems({ max_age: 0 }), /authorizationParams\.max_age/);
    assert.match(problems(['access_type']), /authorizationParams/);
    assert.match(problems(many(MAX_AUTHORIZATION_PARAMS + 1)), new RegExp(`at most ${MAX_AUTHORIZATION_PARAMS} parameters \\(21 given\\)`));
  });
});
