import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import { GatehouseConfigError } from '../../../src/errors/index.ts';

const base = {
  identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret: 's3cret' },
  session: { secrets: [{ id: 1, secret: 'a-very-long-session-secret-of-at-least-32-chars' }] },
  apps: [{ id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' }],
};

describe('pki: the CA key in the configuration', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-ca-key-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads connectors.caKeyFile relative to the configuration folder, not the working directory', () => {
    const keys = `current:${randomBytes(32).toString('base64')}\nold:${randomBytes(32).toString('base64')}\n`;
    writeFileSync(join(dir, 'ca.key'), keys);
    const config = parseGatewayConfig({ ...base, connectors: { stateDir: 'state', caKeyFile: 'ca.key' } }, { baseDir: dir });
    assert.equal(config.connectors?.caKey?.trim(), keys.trim());
    assert.equal('caKeyFile' in (config.connectors ?? {}), false, 'the file name is not carried inward, only its keys');
  });

  it('refuses a key file that is not a key list, naming the option and how to make a key', () => {
    writeFileSync(join(dir, 'ca.key'), 'correct horse battery staple\n');
    assert.throws(
      () => parseGatewayConfig({ ...base, connectors: { stateDir: 'state', caKeyFile: 'ca.key' } }, { baseDir: dir }),
      (error: unknown) =>
        error instanceof GatehouseConfigError &&
        /connectors\.caKeyFile: "ca\.key" key 1 is not base64 of 32 bytes; make one with "openssl rand -base64 32"/.test(error.message),
    );
  });

  it('refuses an inline key of the wrong size', () => {
    assert.throws(
      () => parseGatewayConfig({ ...base, connectors: { stateDir: 'state', caKey: randomBytes(16).toString('base64') } }, { baseDir: dir }),
      (error: unknown) => error instanceof GatehouseConfigError && /connectors\.caKey: key 1 is not base64 of 32 bytes/.test(error.message),
    );
  });
});
