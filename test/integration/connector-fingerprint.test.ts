import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch } from 'undici';
import { runConnectorCli } from '../../dev/lib/connector-process.ts';
import { ADMIN_CONNECTORS_PATH } from '../../src/protocol/connector-api.ts';
import { startConnectorService, type ConnectorServiceHarness } from '../support/connector-service.ts';

interface AdminConnector {
  readonly id: string;
  readonly certificate: { readonly fingerprint256: string };
}

describe('certificate fingerprints (one format wherever an operator reads one)', function () {
  this.timeout(60_000);
  let harness: ConnectorServiceHarness;
  let root: string;

  before(async function () {
    harness = await startConnectorService();
    root = mkdtempSync(join(tmpdir(), 'gatehouse-fingerprint-'));
  });

  after(async function () {
    await harness?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('shows the same fingerprint in `gatehouse-connector status` (text and JSON) as the admin API lists', async function () {
    const dir = join(root, 'state');
    const token = await harness.adminToken('alice');
    const registered = await runConnectorCli(['register', '--service', harness.serviceUrl, '--state-dir', dir, '--ca-file', harness.caFile, '--token', token]);
    assert.equal(registered.code, 0, registered.stderr);
    const { connectorId } = JSON.parse(readFileSync(join(dir, 'connector.json'), 'utf8')) as { connectorId: string };

    const agent = new Agent({ connect: { ca: readFileSync(harness.caFile, 'utf8') } });
    let listed: AdminConnector | undefined;
    try {
      const response = await fetch(`${harness.serviceUrl}${ADMIN_CONNECTORS_PATH}`, { headers: { authorization: `Bearer ${token}` }, dispatcher: agent });
      assert.equal(response.status, 200);
      const body = (await response.json()) as { connectors: AdminConnector[] };
      listed = body.connectors.find((connector) => connector.id === connectorId);
    } finally {
      await agent.close();
    }
    const fingerprint = listed?.certificate.fingerprint256 ?? '';
    assert.match(fingerprint, /^[0-9a-f]{64}$/, 'the admin API: SHA-256, lowercase hex, no separators');

    const text = await runConnectorCli(['status', '--state-dir', dir]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^  sha-256:\\s+${fingerprint}$`, 'm'));
    const json = await runConnectorCli(['status', '--state-dir', dir, '--json']);
    assert.equal((JSON.parse(json.stdout) as { certificate: { fingerprint256: string } }).certificate.fingerprint256, fingerprint);

    // What the docs tell an operator to compare it with: SHA-256 over the DER of the certificate on disk.
    const der = new X509Certificate(readFileSync(join(dir, 'connector.crt'))).raw;
    assert.equal(createHash('sha256').update(der).digest('hex'), fingerprint);
  });
});
