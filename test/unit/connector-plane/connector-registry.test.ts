import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONNECTOR_CHANGED_CHANNEL, ConnectorRegistry, type ConnectorRecord } from '../../../src/connector-plane/connector-registry.ts';
import { MemoryBroadcast } from '../../../src/store/broadcast.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';

function record(id: string, fingerprint256: string, group = 'default'): ConnectorRecord {
  return {
    id,
    group,
    certificate: { serialNumber: '01', fingerprint256, notBefore: '2030-01-01T00:00:00.000Z', notAfter: '2030-02-01T00:00:00.000Z', issuedAt: 1_900_000_000 },
    registeredAt: 1_900_000_000,
    registeredBy: 'admin',
    revoked: false,
  };
}

/** A MemoryStore that counts full listings: one per registry reload. */
class CountingStore extends MemoryStore {
  lists = 0;

  override list(prefix: string): Promise<string[]> {
    this.lists += 1;
    return super.list(prefix);
  }
}

describe('connector plane: the registry shared by several instances', () => {
  it('announces every durable write with the connector id, after the write', async () => {
    const store = new MemoryStore();
    const broadcast = new MemoryBroadcast();
    const registry = new ConnectorRegistry(store, { broadcast });
    const heard: Array<string | undefined> = [];
    broadcast.subscribe(CONNECTOR_CHANGED_CHANNEL, (id) => void store.get(`connector:${id}`).then((raw) => heard.push(raw && id)));
    await registry.save(record('c-1', 'aa'));
    await registry.update('c-1', (current) => ({ ...current, revoked: true }));
    await registry.update('c-1', () => undefined);
    await sleep(10);
    assert.deepEqual(heard, ['c-1', 'c-1'], 'two writes, two messages, each after its record was stored; no message for no change');
  });

  it('sees a record written by another instance once it refreshes it, and reports what changed', async () => {
    const store = new MemoryStore();
    const a = new ConnectorRegistry(store);
    const b = new ConnectorRegistry(store);
    await a.save(record('c-1', 'aa'));
    assert.equal(b.byFingerprint('aa'), undefined);
    const first = await b.refresh('c-1');
    assert.equal(first.before, undefined);
    assert.equal(b.byFingerprint('aa')?.record.id, 'c-1');

    await a.update('c-1', (current) => ({ ...current, revoked: true }));
    const second = await b.refresh('c-1');
    assert.equal(second.before?.revoked, false);
    assert.equal(second.after?.revoked, true);
    assert.equal(b.get('c-1')?.revoked, true);
  });

  it('reloads everything and names the records that changed', async () => {
    const store = new MemoryStore();
    const a = new ConnectorRegistry(store);
    const b = new ConnectorRegistry(store);
    await a.save(record('c-1', 'aa'));
    await a.save(record('c-2', 'bb'));
    assert.deepEqual((await b.load()).sort(), ['c-1', 'c-2']);
    assert.deepEqual(await b.load(), [], 'nothing changed since');
    await a.update('c-2', (current) => ({ ...current, certificate: { ...current.certificate, fingerprint256: 'cc' } }));
    assert.deepEqual(await b.load(), ['c-2']);
    assert.equal(b.byFingerprint('bb'), undefined, 'the replaced certificate is no longer indexed');
    assert.equal(b.byFingerprint('cc')?.record.id, 'c-2');
  });

  it('changes the record as stored, not a stale copy: a move through one instance keeps a renewal made through another', async () => {
    const store = new MemoryStore();
    const a = new ConnectorRegistry(store);
    const b = new ConnectorRegistry(store);
    await a.save(record('c-1', 'aa'));
    await b.load();
    await a.update('c-1', (current) => ({ ...current, certificate: { ...current.certificate, fingerprint256: 'renewed' } }));
    // b has not heard of the renewal yet.
    assert.equal(b.get('c-1')?.certificate.fingerprint256, 'aa');
    const { record: moved } = await b.update('c-1', (current) => ({ ...current, group: 'hr' }));
    assert.equal(moved.certificate.fingerprint256, 'renewed');
    assert.equal(moved.group, 'hr');
    const stored = JSON.parse((await store.get('connector:c-1'))!) as ConnectorRecord;
    assert.equal(stored.certificate.fingerprint256, 'renewed');
  });

  it('refuses to change a connector the store does not hold', async () => {
    const registry = new ConnectorRegistry(new MemoryStore());
    await assert.rejects(
      registry.update('c-none', (current) => current),
      (error: Error & { code?: string }) => error.code === 'ERR_CONNECTOR_NOT_FOUND',
    );
  });

  it('finds a certificate issued through another instance by reading the registry again', async () => {
    const store = new MemoryStore();
    const a = new ConnectorRegistry(store);
    const b = new ConnectorRegistry(store, { missReloadIntervalMs: 50 });
    await a.save(record('c-1', 'aa'));
    assert.equal((await b.lookup('aa'))?.record.id, 'c-1');
  });

  it('reads the registry again at most once per interval, however many unknown certificates arrive', async () => {
    const store = new CountingStore();
    const registry = new ConnectorRegistry(store, { missReloadIntervalMs: 300 });
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => registry.lookup(`unknown-${i}`)));
    assert.ok(answers.every((answer) => answer === undefined));
    assert.equal(store.lists, 1, 'one reload for the whole flood');

    // The next flood waits for the interval, and again shares one reload.
    await Promise.all(Array.from({ length: 50 }, (_, i) => registry.lookup(`again-${i}`)));
    assert.equal(store.lists, 2);
    assert.ok(performance.now() - started >= 290, 'the second reload came one interval after the first');

    // A connector registered meanwhile elsewhere is found by the next reload.
    await new ConnectorRegistry(store).save(record('c-9', 'late'));
    assert.equal((await registry.lookup('late'))?.record.id, 'c-9');
    assert.equal(store.lists, 3);
  });

  it('never lets a full reload that read before a write replace the newer record', async () => {
    const store = new MemoryStore();
    const a = new ConnectorRegistry(store);
    await a.save(record('c-1', 'old'));
    const b = new ConnectorRegistry(store);
    await b.load();
    // The reload reads c-1 (old), then b saves a newer c-1 before the reload applies what it read.
    const originalGet = store.get.bind(store);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    store.get = async (key) => {
      const value = await originalGet(key);
      await gate;
      return value;
    };
    await a.save({ ...record('c-1', 'old'), group: 'hr' });
    const reload = b.load();
    await sleep(5);
    store.get = originalGet;
    await b.save({ ...record('c-1', 'new'), group: 'ops' });
    release();
    await reload;
    assert.equal(b.get('c-1')?.certificate.fingerprint256, 'new');
    assert.equal(b.get('c-1')?.group, 'ops');
  });
});
