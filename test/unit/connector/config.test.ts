import assert from 'node:assert/strict';
import { ConnectorConfigStore, parseConnectorConfig } from '../../../src/connector/config.ts';
import { sessionOnSocket } from '../../../src/connector/data-link.ts';
import { ConnectorError } from '../../../src/errors/connector-error.ts';

function document(version: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version,
    connectorId: 'c-1',
    group: 'default',
    apps: [
      { id: 'wiki', internalUrl: 'http://10.0.0.5:8080' },
      { id: 'hr', internalUrl: 'https://hr.corp.example/' },
    ],
    heartbeatIntervalSeconds: 30,
    renewal: { ageSeconds: 2_592_000, issuedAt: '2026-01-01T00:00:00.000Z', due: false },
    ...overrides,
  };
}

function assertInvalid(fn: () => unknown, pattern: RegExp, reason = 'schema'): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConnectorError);
    assert.equal(error.code, 'ERR_CONFIG_INVALID');
    assert.equal(error.reason, reason);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('connector configuration', function () {
  it('applies a valid document and exposes the allow-list', function () {
    const store = new ConnectorConfigStore('c-1');
    assert.equal(store.version, -1);
    assert.equal(store.allowedApp('wiki'), undefined, 'nothing is allowed before the first configuration');
    const result = store.apply(document(3));
    assert.equal(result.applied, true);
    assert.equal(store.version, 3);
    assert.deepEqual(store.allowedApp('wiki'), { id: 'wiki', internalUrl: 'http://10.0.0.5:8080/', protocol: 'http:', hostname: '10.0.0.5', port: 8080 });
    assert.deepEqual(store.allowedApp('hr'), { id: 'hr', internalUrl: 'https://hr.corp.example/', protocol: 'https:', hostname: 'hr.corp.example', port: 443 });
    assert.equal(store.allowedApp('payroll'), undefined);
    assert.equal(store.allowedApp('__proto__'), undefined);
    assert.ok(Object.isFrozen(store.current));
  });

  it("holds app ids and groups to the gateway configuration's rules, so both processes agree on what an app is", function () {
    assertInvalid(
      () => parseConnectorConfig(document(1, { apps: [{ id: 'a'.repeat(64), internalUrl: 'http://10.0.0.5' }] })),
      /apps\[0\]\.id: must be an app id/,
    );
    assertInvalid(() => parseConnectorConfig(document(1, { apps: [{ id: 'Wiki', internalUrl: 'http://10.0.0.5' }] })), /apps\[0\]\.id: must be an app id/);
    assertInvalid(() => parseConnectorConfig(document(1, { group: 'a group' })), /group: must be a connector group name/);
    const longest = 'a'.repeat(63);
    assert.ok(parseConnectorConfig(document(1, { apps: [{ id: longest, internalUrl: 'http://10.0.0.5' }] })).apps.has(longest));
  });

  it('ignores versions at or below the current one, but reports what it received', function () {
    const store = new ConnectorConfigStore('c-1');
    store.apply(document(5));
    const same = store.apply(document(5, { apps: [] }));
    assert.equal(same.applied, false);
    assert.equal(store.current?.apps.size, 2);
    const older = store.apply(document(4, { apps: [], renewal: { ageSeconds: 60, issuedAt: '2026-01-01T00:00:00Z', due: true } }));
    assert.equal(older.applied, false);
    assert.equal(older.received.renewal.due, true, 'renewal status is read even from an old version');
    assert.equal(store.version, 5);
    assert.equal(store.allowedApp('wiki')?.port, 8080);

    const newer = store.apply(document(6, { group: 'hr', apps: [{ id: 'hr', internalUrl: 'http://10.30.0.7:9000' }] }));
    assert.equal(newer.applied, true);
    assert.equal(newer.applied && newer.previous?.version, 5);
    assert.equal(store.allowedApp('wiki'), undefined, 'an app removed from the configuration is refused at once');
    assert.equal(store.allowedApp('hr')?.port, 9000);
    assert.equal(store.current?.group, 'hr');
  });

  it('refuses an invalid document whole and keeps the previous one', function () {
    const store = new ConnectorConfigStore('c-1');
    store.apply(document(1));
    const bad = document(2, {
      apps: [
        { id: 'ok', internalUrl: 'http://10.0.0.9:80' },
        { id: 'evil', internalUrl: 'file:///etc/passwd' },
      ],
    });
    assertInvalid(() => store.apply(bad), /apps\[1\]\.internalUrl: must be an http\(s\) URL/);
    assert.equal(store.version, 1);
    assert.equal(store.allowedApp('ok'), undefined, 'no part of the refused document was applied');
    assert.equal(store.allowedApp('wiki')?.hostname, '10.0.0.5');

    assertInvalid(
      () =>
        store.apply(
          document(3, {
            apps: [
              { id: 'a', internalUrl: 'http://x' },
              { id: 'a', internalUrl: 'http://y' },
            ],
          }),
        ),
      /apps\[1\]\.id: app id "a" appears twice/,
    );
    assertInvalid(() => store.apply(document(3, { apps: [{ id: 'a', internalUrl: 'http://user:pw@10.0.0.1' }] })), /must not contain credentials/);
    assertInvalid(() => store.apply(document(3, { version: -1 })), /version: /);
    assertInvalid(() => store.apply(document(3, { heartbeatIntervalSeconds: 0 })), /heartbeatIntervalSeconds: /);
    assertInvalid(() => store.apply(document(3, { renewal: { ageSeconds: 1, issuedAt: 'yesterday', due: false } })), /renewal\.issuedAt: /);
    assertInvalid(() => store.apply('not an object'), /\(root\): /);
    assertInvalid(() => store.apply(null), /\(root\): /);
    assert.equal(store.version, 1);
  });

  it('refuses the configuration of another connector', function () {
    const store = new ConnectorConfigStore('c-1');
    assertInvalid(() => store.apply(document(1, { connectorId: 'c-2' })), /connector c-2, but this is c-1/, 'other_connector');
    assert.equal(store.current, undefined);
  });

  it("takes the service's word on its tunnel sessions from every document, a same-version one included", function () {
    assert.equal(parseConnectorConfig(document(1)).tunnelReadsWhileWriting, false, 'an older service does not say: the connector reads itself');
    assert.equal(parseConnectorConfig(document(1, { tunnelReadsWhileWriting: false })).tunnelReadsWhileWriting, false);
    assert.equal(parseConnectorConfig(document(1, { tunnelReadsWhileWriting: true })).tunnelReadsWhileWriting, true);
    assertInvalid(() => parseConnectorConfig(document(1, { tunnelReadsWhileWriting: 'yes' })), /tunnelReadsWhileWriting/);
    const store = new ConnectorConfigStore('c-1');
    store.apply(document(4));
    assert.equal(store.current?.tunnelReadsWhileWriting, false);
    // The service was upgraded and kept its configuration version: its new word counts at once.
    assert.equal(store.apply(document(4, { tunnelReadsWhileWriting: true })).applied, false);
    assert.equal(store.current?.tunnelReadsWhileWriting, true);
    assert.equal(store.current?.version, 4);
    // An older answer does not take it back.
    store.apply(document(3));
    assert.equal(store.current?.tunnelReadsWhileWriting, true);
    store.apply(document(5));
    assert.equal(store.current?.tunnelReadsWhileWriting, false);
  });

  it('runs a tunnel session straight on its connection only over TLS, and only when the service reads while it writes', function () {
    assert.equal(sessionOnSocket('tls', parseConnectorConfig(document(1, { tunnelReadsWhileWriting: true }))), true);
    assert.equal(sessionOnSocket('tls', parseConnectorConfig(document(1))), false);
    assert.equal(sessionOnSocket('tls', undefined), false, 'no configuration yet');
    assert.equal(sessionOnSocket('websocket', parseConnectorConfig(document(1, { tunnelReadsWhileWriting: true }))), false);
  });

  it('ignores fields it does not know, so a newer service does not break it', function () {
    const config = parseConnectorConfig(document(1, { tunnels: 2, apps: [{ id: 'wiki', internalUrl: 'http://10.0.0.5:8080', tls: { serverName: 'x' } }] }));
    assert.equal(config.apps.get('wiki')?.port, 8080);
    assert.ok(!('tunnels' in config));
  });
});
