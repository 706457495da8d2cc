import assert from 'node:assert/strict';
import { AuditLog, memorySink } from '../../../src/audit/audit-log.ts';
import { parseGatewayConfig, type AppConfig } from '../../../src/config/parse.ts';
import { ConfigVersion } from '../../../src/connector-plane/config-version.ts';
import type { ConnectorRecord } from '../../../src/connector-plane/connector-registry.ts';
import { connectorConfigSchema } from '../../../src/protocol/config-document.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';

const settings = { heartbeatInterval: 15, renewalAge: 86_400 };

function apps(list: Array<Record<string, unknown>>): readonly AppConfig[] {
  return parseGatewayConfig({
    identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse' },
    session: { secrets: [{ id: 1, secret: 'a-test-secret-that-is-long-enough-0123456789' }] },
    apps: list,
  }).apps;
}

const WIKI = { id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080', connectorGroup: 'default' };
const HR = { id: 'hr', externalUrl: 'https://hr.example.com', internalUrl: 'https://hr.internal:8443', connectorGroup: 'hr' };

function record(group: string): ConnectorRecord {
  return {
    id: 'c-0123456789abcdef0123',
    group,
    certificate: {
      serialNumber: '01',
      fingerprint256: 'ab',
      notBefore: '2030-01-01T00:00:00.000Z',
      notAfter: '2030-02-01T00:00:00.000Z',
      issuedAt: 1_900_000_000,
    },
    registeredAt: 1_900_000_000,
    registeredBy: 'admin',
    revoked: false,
  };
}

function versionOn(
  store: MemoryStore,
  appList: readonly AppConfig[],
  announced: number[] = [],
): { version: ConfigVersion; audit: ReturnType<typeof memorySink> } {
  const audit = memorySink();
  const version = new ConfigVersion({
    store,
    apps: appList,
    settings,
    audit: new AuditLog([audit], { floodGuard: false }),
    events: { broadcast: (_event, data) => announced.push((data as { version: number }).version) },
  });
  return { version, audit };
}

describe('connector plane: the configuration version', () => {
  it('starts at 1, and a restart with the same apps keeps its version', async () => {
    const store = new MemoryStore();
    const first = versionOn(store, apps([WIKI]));
    await first.version.load();
    assert.equal(first.version.current, 1);
    assert.deepEqual(
      first.audit.ofType('config.changed').map((event) => event.reason),
      ['configuration_loaded'],
    );
    const again = versionOn(store, apps([WIKI]));
    await again.version.load();
    assert.equal(again.version.current, 1);
    assert.equal(again.audit.ofType('config.changed').length, 0);
  });

  it('rises when a start brings other apps, and announces each new version', async () => {
    const store = new MemoryStore();
    await versionOn(store, apps([WIKI])).version.load();
    const announced: number[] = [];
    const changed = versionOn(store, apps([WIKI, HR]), announced);
    await changed.version.load();
    assert.equal(changed.version.current, 2);
    assert.equal(await changed.version.bump('connector_moved'), 3);
    assert.deepEqual(announced, [2, 3]);
  });

  it('gives concurrent raises from two instances on one store distinct versions', async () => {
    const store = new MemoryStore();
    const a = versionOn(store, apps([WIKI])).version;
    const b = versionOn(store, apps([WIKI])).version;
    const raised = await Promise.all([a.bump('one'), b.bump('two'), a.bump('three')]);
    assert.deepEqual([...raised].sort(), [1, 2, 3]);
  });

  it('builds for each connector the apps of its group only, in the shared schema', async () => {
    const { version } = versionOn(new MemoryStore(), apps([WIKI, { ...HR, internalTls: { serverName: 'hr.internal' } }]));
    await version.load();
    const document = await version.documentFor(record('hr'), true);
    assert.deepEqual(document.apps, [{ id: 'hr', internalUrl: 'https://hr.internal:8443', tls: { servername: 'hr.internal' } }]);
    assert.deepEqual(document.renewal, { ageSeconds: 86_400, issuedAt: new Date(1_900_000_000_000).toISOString(), due: true });
    // The service's tunnel sessions read while they write (they run on the write-ahead stream): its connectors may not.
    assert.equal(document.tunnelReadsWhileWriting, true);
    assert.equal(connectorConfigSchema.safeParse(document).success, true);
  });
});
