import assert from 'node:assert/strict';
import { parseGatewayConfig, type GatewayConfig } from '../../../src/config/parse.ts';
import type { GatewayConfigInput } from '../../../src/config/schema.ts';
import { gatewayConfigSchema } from '../../../src/config/schema.ts';
import { reloadableChanges, restartOnlyChanges, SORTED_KEYS } from '../../../src/gateway/config-diff.ts';
import { SECRET_1 } from '../../support/stack.ts';

const base: GatewayConfigInput = {
  identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret: 'a-client-secret' },
  session: { secrets: [{ id: 1, secret: SECRET_1 }] },
  apps: [
    { id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' },
    { id: 'open', externalUrl: 'https://open.example.com', internalUrl: 'http://10.0.0.6:8080', preauth: 'passthrough' },
  ],
};

function parse(change: (input: GatewayConfigInput) => GatewayConfigInput = (input) => input): GatewayConfig {
  return parseGatewayConfig(change(structuredClone(base)));
}

describe('what a reload changes (config-diff)', () => {
  it('sorts every top-level key of the configuration as reloadable or restart-only', () => {
    assert.deepEqual([...SORTED_KEYS].sort(), Object.keys(gatewayConfigSchema.shape).sort());
  });

  it('names apps by id, added, removed and changed, and nothing for an equal configuration', () => {
    assert.deepEqual(reloadableChanges(parse(), parse()), []);
    const after = parse((input) => ({
      ...input,
      apps: [
        { ...input.apps[0]!, identityHeaders: { 'X-User': 'email' } },
        { id: 'new', externalUrl: 'https://new.example.com', internalUrl: 'http://10.0.0.7' },
      ],
    }));
    assert.deepEqual(reloadableChanges(parse(), after), ['apps[wiki] changed', 'apps[new] added', 'apps[open] removed']);
    assert.deepEqual(restartOnlyChanges(parse(), after), []);
  });

  it('refuses what a running gateway cannot take, by path, and takes the access log', () => {
    const after = parse((input) => ({
      ...input,
      session: { ...input.session, cookieName: 'other' },
      admin: { listen: '127.0.0.1:9100' },
      logging: { level: 'debug', accessLog: { enabled: false } },
    }));
    assert.deepEqual(restartOnlyChanges(parse(), after), ['session.cookieName', 'admin', 'logging.level']);
    assert.deepEqual(reloadableChanges(parse(), after), ['logging.accessLog']);
  });

  it('needs a restart for new authorization request parameters, as for any identityProvider key', () => {
    const after = parse((input) => ({ ...input, identityProvider: { ...input.identityProvider, authorizationParams: { access_type: 'offline' } } }));
    assert.deepEqual(restartOnlyChanges(parse(), after), ['identityProvider.authorizationParams']);
    assert.deepEqual(reloadableChanges(parse(), after), []);
  });
});
