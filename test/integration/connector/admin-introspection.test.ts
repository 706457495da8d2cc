import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runConnectorCli, type CliResult } from '../../../dev/lib/connector-process.ts';
import { CONNECTOR_SCOPE } from '../../../dev/lib/device-approval.ts';
import { startConnectorService, type ConnectorServiceHarness } from '../../support/connector-service.ts';

/** Registering a connector with an opaque admin access token, checked by RFC 7662 introspection at the real identity provider. */
describe('opaque admin tokens through token introspection (real identity provider)', function () {
  this.timeout(60_000);
  let harness: ConnectorServiceHarness;
  let root: string;
  let count = 0;

  before(async function () {
    harness = await startConnectorService({ opaqueAdminTokens: true, connectors: { admin: { scope: CONNECTOR_SCOPE, introspection: {} } } });
    root = mkdtempSync(join(tmpdir(), 'gatehouse-introspection-'));
  });

  after(async function () {
    await harness?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  function register(token: string): Promise<CliResult> {
    count += 1;
    return runConnectorCli([
      'register',
      '--service',
      harness.serviceUrl,
      '--state-dir',
      join(root, `s${count}`),
      '--ca-file',
      harness.caFile,
      // One argument: an opaque token may start with "-", which would read as an option.
      `--token=${token}`,
    ]);
  }

  function refusals(): string[] {
    return harness.audit.ofType('connector.refused').map((event) => String(event.reason));
  }

  it("accepts an admin's opaque token: introspected active, for this service, with the admin role", async function () {
    const token = await harness.adminToken('alice');
    assert.notEqual(token.split('.').length, 3, 'the identity provider issued an opaque token, not a JWT');
    const result = await register(token);
    assert.equal(result.code, 0, result.stderr);
    const audit = harness.audit.ofType('connector.registered').at(-1);
    assert.equal(audit?.user?.sub ?? audit?.details?.['admin'], 'user-alice', JSON.stringify(audit));
  });

  it("refuses a non-admin's opaque token (same role check) and one the provider does not vouch for", async function () {
    const bob = await register(await harness.adminToken('bob'));
    assert.equal(bob.code, 1, bob.stderr);
    assert.match(bob.stderr, /ERR_ADMIN_TOKEN_INVALID, reason not_admin/);
    const forged = await register('not-a-token-the-provider-issued-0123456789');
    assert.equal(forged.code, 1, forged.stderr);
    assert.match(forged.stderr, /ERR_ADMIN_TOKEN_INVALID, reason inactive/);
    assert.ok(refusals().includes('not_admin') && refusals().includes('inactive'), refusals().join(', '));
  });
});
