import assert from 'node:assert/strict';
import { groupInstances } from '../../../src/connector-plane/instance-overview.ts';
import {
  connectorLoads,
  MAX_LISTED_CONNECTORS,
  MAX_RECORD_CHARS,
  readInstanceRecord,
  writeInstanceRecord,
} from '../../../src/connector-plane/instance-record.ts';

describe("instance record: each gateway instance's tunnels per connector, in the shared store", () => {
  const url = 'https://gw-a.internal:8444';

  it('reads back what it wrote', () => {
    const loads = [
      { id: 'c1', tunnels: 2, streams: 3 },
      { id: 'c2', tunnels: 1, streams: 0 },
    ];
    assert.deepEqual(readInstanceRecord(writeInstanceRecord('gw-a', url, 1000, loads)), {
      id: 'gw-a',
      url,
      expiresAt: 1000,
      connectors: loads,
      truncated: false,
    });
  });

  it("reads an older instance's record (no connector list) as unknown, not as no tunnels", () => {
    const record = readInstanceRecord(JSON.stringify({ id: 'gw-old', url, expiresAt: 1000 }));
    assert.equal(record?.id, 'gw-old');
    assert.equal(record?.connectors, undefined);
    const [row] = groupInstances('default', [{ id: 'c1', group: 'default' }], [{ id: 'gw-old', url }]);
    assert.deepEqual(row, { id: 'gw-old', url, tunnels: null, streamsInFlight: null, state: 'unknown', partial: false });
  });

  it('lists only the connectors with the most tunnels, and says so, however many connectors there are', () => {
    const loads = Array.from({ length: MAX_LISTED_CONNECTORS + 50 }, (_, index) => ({ id: `c${index}`, tunnels: index % 7, streams: 1 }));
    const raw = writeInstanceRecord('gw-a', url, 1000, loads);
    assert.ok(raw.length < MAX_RECORD_CHARS);
    const record = readInstanceRecord(raw);
    assert.equal(record?.connectors?.length, MAX_LISTED_CONNECTORS);
    assert.equal(record?.truncated, true);
    assert.ok(
      record.connectors.every((load) => load.tunnels >= 1),
      'the busiest are kept',
    );
    assert.equal(groupInstances('g', [{ id: 'c6', group: 'g' }], [record])[0]?.partial, true);
  });

  it('refuses oversized records and keeps an instance whose connector list is hostile, with its tunnels unknown', () => {
    assert.equal(readInstanceRecord(JSON.stringify({ id: 'gw-a', url, expiresAt: 1, pad: 'x'.repeat(MAX_RECORD_CHARS) })), undefined);
    const tooMany = Array.from({ length: MAX_LISTED_CONNECTORS + 1 }, (_, index) => ({ id: `c${index}`, tunnels: 1, streams: 0 }));
    const hostile: unknown[] = [
      tooMany,
      [{ id: 'c1', tunnels: -1, streams: 0 }],
      [{ id: 'c1', tunnels: 1.5, streams: 0 }],
      [{ id: 'c1', tunnels: 1e12, streams: 0 }],
      [{ id: 'c1', tunnels: '2', streams: 0 }],
      [{ id: '', tunnels: 1, streams: 0 }],
      [{ id: 'x'.repeat(201), tunnels: 1, streams: 0 }],
      { c1: 2 },
      'lots',
      null,
    ];
    for (const connectors of hostile) {
      const record = readInstanceRecord(JSON.stringify({ id: 'gw-a', url, expiresAt: 1000, connectors, truncated: true }));
      assert.equal(record?.id, 'gw-a', JSON.stringify(connectors).slice(0, 80));
      assert.equal(record.connectors, undefined);
      assert.equal(record.truncated, false);
    }
    for (const raw of ['not json', '[]', 'null', JSON.stringify({ id: 'gw-a', url: 'not a url', expiresAt: 1 }), JSON.stringify({ url, expiresAt: 1 })]) {
      assert.equal(readInstanceRecord(raw), undefined, raw);
    }
  });

  it('counts open tunnels and their streams per connector; a group sees only its own connectors, per instance, stale ones marked', () => {
    const loads = connectorLoads([
      { connectorId: 'c1', closed: false, inFlight: 2 },
      { connectorId: 'c1', closed: false, inFlight: 1 },
      { connectorId: 'c1', closed: true, inFlight: 9 },
      { connectorId: 'c2', closed: false, inFlight: 0 },
    ]);
    assert.deepEqual(loads, [
      { id: 'c1', tunnels: 2, streams: 3 },
      { id: 'c2', tunnels: 1, streams: 0 },
    ]);
    const connectors = [
      { id: 'c1', group: 'north' },
      { id: 'c2', group: 'south' },
    ];
    const rows = groupInstances('north', connectors, [
      { id: 'gw-b', url: 'https://gw-b', connectors: loads, stale: true },
      { id: 'gw-a', url, connectors: [] },
    ]);
    assert.deepEqual(
      rows.map((row) => [row.id, row.tunnels, row.streamsInFlight, row.state]),
      [
        ['gw-a', 0, 0, 'live'],
        ['gw-b', 2, 3, 'stale'],
      ],
    );
  });
});
