import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteDatabase, STATE_DATABASE_FILE } from '../../../src/store/sqlite-database.ts';
import { SqliteStore } from '../../../src/store/sqlite-store.ts';
import { StoreError } from '../../../src/store/store-error.ts';

/**
 * A state directory as the earlier one-file-per-key store left it: the file
 * name is the key with all but [a-z0-9_-] and inner dots as %XX (uppercase,
 * UTF-8), the content is the value, and dot-files are its lock and temp files.
 */
const OLD: ReadonlyArray<readonly [file: string, key: string, value: string]> = [
  ['ca', 'ca', '{"certPem":"-----BEGIN CERTIFICATE-----","keyPem":"k"}'],
  ['connector%3Ac-1', 'connector:c-1', '{"id":"c-1","group":"g"}'],
  ['connector%3Ac-2', 'connector:c-2', '{"id":"c-2","group":"g"}'],
  ['config%3Aversion', 'config:version', '7'],
  ['%41.b', 'A.b', 'é'],
  ['%C3%BC%2F..', 'ü/..', ''],
  ['%00', '\u0000', 'nul'],
];
const OLD_FILES = Object.fromEntries(OLD.map(([file, , value]) => [file, value]));
const OLD_KEYS = Object.fromEntries(OLD.map(([, key, value]) => [key, value]));
/** Never keys: the lock, a write interrupted by a crash, a foreign file, a non-canonical spelling. */
const NOT_KEYS: Record<string, string> = {
  '.lock': '4242 1700000000000\n',
  '.tmp-0123456789abcdef': '{"half":',
  README: 'not ours',
  'connector%3ac-1': 'lowercase escape: not a canonical name',
};

describe('SqliteStore: import of an earlier version’s state files', () => {
  let root: string;
  let dir: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'gatehouse-import-'));
    dir = join(root, 'state');
    mkdirSync(dir, { mode: 0o700 });
    for (const [name, content] of Object.entries({ ...OLD_FILES, ...NOT_KEYS })) writeFileSync(join(dir, name), content, { mode: 0o600 });
    mkdirSync(join(dir, 'subfolder'));
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  async function contents(store: SqliteStore): Promise<Record<string, string | undefined>> {
    const result: Record<string, string | undefined> = {};
    for (const key of await store.list('')) result[key] = await store.get(key);
    return result;
  }

  it('imports every key once at the first open, and leaves the old files in place', async () => {
    const store = SqliteStore.open(dir);
    assert.equal(store.imported, Object.keys(OLD_KEYS).length);
    assert.deepEqual(await contents(store), OLD_KEYS);
    await store.put('connector:c-3', '{}');
    await store.delete('connector:c-1');
    await store.close();
    for (const [name, content] of Object.entries({ ...OLD_FILES, ...NOT_KEYS })) assert.equal(readFileSync(join(dir, name), 'utf8'), content, name);

    // The files are still there, but the database is now what counts.
    const reopened = SqliteStore.open(dir);
    assert.equal(reopened.imported, 0);
    assert.equal(await reopened.get('connector:c-1'), undefined);
    assert.equal(await reopened.get('connector:c-3'), '{}');
    await reopened.close();
  });

  it('imports nothing from a fresh directory', async () => {
    const store = SqliteStore.open(join(root, 'fresh'));
    assert.equal(store.imported, 0);
    assert.deepEqual(await store.list(''), []);
    await store.close();
  });

  it('still imports when another part created the database first', async () => {
    const db = openSqliteDatabase(join(dir, STATE_DATABASE_FILE));
    db.exec('CREATE TABLE other (x INTEGER)');
    db.close();
    const store = SqliteStore.open(dir);
    assert.equal(store.imported, Object.keys(OLD_KEYS).length);
    assert.deepEqual(await contents(store), OLD_KEYS);
    await store.close();
  });

  it('refuses a file it cannot read as a value, imports nothing, and imports all once it is moved away', async () => {
    writeFileSync(join(dir, 'broken'), Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    assert.throws(
      () => SqliteStore.open(dir),
      (error: unknown) => error instanceof StoreError && error.code === 'ERR_STORE_UNUSABLE' && error.message.includes(join(dir, 'broken')),
    );
    renameSync(join(dir, 'broken'), join(root, 'broken'));
    const store = SqliteStore.open(dir);
    assert.equal(store.imported, Object.keys(OLD_KEYS).length);
    assert.deepEqual(await contents(store), OLD_KEYS);
    await store.close();
    assert.ok(readdirSync(dir).includes(STATE_DATABASE_FILE));
  });
});
