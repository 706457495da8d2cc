import assert from 'node:assert/strict';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import { GatehouseConfigError } from '../../../src/errors/index.ts';

const BASE = {
  identityProvider: { issuer: 'https://idp.example.com', clientId: 'gatehouse' },
  session: { secrets: [{ id: 1, secret: 'test-session-secret-number-one-0123456789abcdef' }] },
  apps: [{ id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' }],
};

function withIdp(extra: Record<string, unknown>) {
  return parseGatewayConfig({ ...BASE, identityProvider: { ...BASE.identityProvider, ...extra } });
}

function problems(extra: Record<string, unknown>): string {
  try {
    withIdp(extra);
  } catch (error) {
    assert.ok(error instanceof GatehouseConfigError);
    return error.message;
  }
  assert.fail('expected the configuration to be refused');
}

describe('config: identityProvider.groupsClaim and groupsEndpoint', () => {
  it('defaults to the groups claim and no endpoint', () => {
    const parsed = withIdp({});
    assert.equal(parsed.identityProvider.groupsClaim, 'groups');
    assert.equal(parsed.identityProvider.groupsEndpoint, undefined);
  });

  it('takes a name or a dotted path, and an https endpoint with its page cap', () => {
    assert.equal(withIdp({ groupsClaim: 'realm_access.roles' }).identityProvider.groupsClaim, 'realm_access.roles');
    const endpoint = withIdp({ groupsEndpoint: { url: 'https://graph.microsoft.com/v1.0/me/transitiveMemberOf?$select=id' } }).identityProvider.groupsEndpoint;
    assert.equal(endpoint?.maxPages, 20);
    assert.equal(withIdp({ groupsEndpoint: { url: 'http://127.0.0.1:8080/groups', maxPages: 2 } }).identityProvider.groupsEndpoint?.maxPages, 2);
  });

  it('refuses an endpoint the user access token would reach in clear, with credentials, or unknown keys', () => {
    assert.match(problems({ groupsEndpoint: { url: 'http://graph.example.com/groups' } }), /identityProvider\.groupsEndpoint\.url: .*https/);
    assert.match(problems({ groupsEndpoint: { url: 'https://user:pw@graph.example.com/' } }), /credentials/);
    assert.match(problems({ groupsEndpoint: { url: 'graph' } }), /absolute URL/);
    assert.match(problems({ groupsEndpoint: { url: 'https://graph.example.com/', maxPages: 500 } }), /maxPages/);
    assert.match(problems({ groupsEndpoint: { url: 'https://graph.example.com/', header: 'x' } }), /header/);
    assert.match(problems({ groupsClaim: '' }), /groupsClaim/);
  });
});
