import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openConnectorCa } from '../../../src/connector-plane/ca-bootstrap.ts';
import { CaError } from '../../../src/pki/errors.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';

const line = (id: string): string => `${id}:${randomBytes(32).toString('base64')}`;
const stored = async (store: MemoryStore): Promise<Record<string, unknown>> => JSON.parse((await store.get('connector-ca')) ?? '{}') as Record<string, unknown>;
const kid = async (store: MemoryStore): Promise<unknown> => ((await stored(store))['sealedKey'] as { kid?: unknown } | undefined)?.kid;

function recordingLogger(): { warn: (...args: unknown[]) => void; info: (...args: unknown[]) => void; lines: string[] } {
  const lines: string[] = [];
  const record = (...args: unknown[]): void => {
    lines.push(String(args.find((arg) => typeof arg === 'string')));
  };
  return { warn: record, info: record, lines };
}

describe('connector plane: the CA private key sealed in the store', function () {
  this.timeout(60_000);

  it('without a CA key keeps working in clear and warns once at start', async () => {
    const store = new MemoryStore();
    const logger = recordingLogger();
    await openConnectorCa(store, { logger });
    assert.equal(typeof (await stored(store))['keyPem'], 'string');
    assert.equal(logger.lines.length, 1);
    assert.match(logger.lines[0] ?? '', /no CA key configured .*unencrypted.*development only\. Make a key with "openssl rand -base64 32"/);
  });

  it('seals a new CA with the current key, and seals a CA kept in clear once a key is configured', async () => {
    const key = line('one');
    const fresh = new MemoryStore();
    const created = await openConnectorCa(fresh, { caKey: key });
    assert.equal(await kid(fresh), 'one');
    assert.doesNotMatch((await fresh.get('connector-ca')) ?? '', /PRIVATE KEY/);
    assert.equal((await openConnectorCa(fresh, { caKey: key })).fingerprint256, created.fingerprint256);

    const clear = new MemoryStore();
    const before = await openConnectorCa(clear);
    const logger = recordingLogger();
    const after = await openConnectorCa(clear, { caKey: key, logger });
    assert.equal(after.fingerprint256, before.fingerprint256);
    assert.equal(await kid(clear), 'one');
    assert.doesNotMatch((await clear.get('connector-ca')) ?? '', /PRIVATE KEY/);
    assert.deepEqual(logger.lines, ['connector CA: private key encrypted in the store']);
  });

  it('rotates: a CA sealed with a previous key is sealed again with the current one, by exactly one of several instances starting at once', async () => {
    const store = new MemoryStore();
    const old = line('old');
    const ca = await openConnectorCa(store, { caKey: old });
    const rotated = `${line('new')}\n${old}`;
    const writes: string[] = [];
    const compareAndSet = store.compareAndSet.bind(store);
    store.compareAndSet = async (key, expected, value) => {
      const wrote = await compareAndSet(key, expected, value);
      if (wrote) writes.push(value);
      return wrote;
    };
    const opened = await Promise.all([1, 2, 3].map(() => openConnectorCa(store, { caKey: rotated })));
    for (const each of opened) assert.equal(each.fingerprint256, ca.fingerprint256);
    assert.equal(writes.length, 1);
    assert.equal(await kid(store), 'new');
    // The previous key can now be dropped from the list.
    assert.equal((await openConnectorCa(store, { caKey: rotated.split('\n')[0] ?? '' })).fingerprint256, ca.fingerprint256);
  });

  it('refuses to open a sealed CA with a wrong key or with none, leaving the store as it was', async () => {
    const store = new MemoryStore();
    await openConnectorCa(store, { caKey: line('one') });
    const before = await store.get('connector-ca');
    await assert.rejects(openConnectorCa(store, { caKey: line('one') }), (error: unknown) => error instanceof CaError && error.code === 'ERR_CA_KEY_MISMATCH');
    await assert.rejects(openConnectorCa(store, { caKey: line('two') }), (error: unknown) => error instanceof CaError && error.code === 'ERR_CA_KEY_MISMATCH');
    await assert.rejects(openConnectorCa(store), (error: unknown) => error instanceof CaError && error.code === 'ERR_CA_KEY_MISSING');
    assert.equal(await store.get('connector-ca'), before);
  });
});
