/**
 * The embedded default Store: one table in the state database.
 *
 * Every write is one SQLite transaction, committed (synchronous FULL) before
 * its promise resolves, so a crash keeps each key's old value or its new one.
 * compareAndSet reads and writes under one write lock, which makes it atomic
 * across processes too: two gateways on one state directory are safe, each
 * waiting its turn for the lock.
 */
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { importFileStore } from './file-store-import.ts';
import { inTransaction, openSqliteDatabase, STATE_DATABASE_FILE } from './sqlite-database.ts';
import type { Store } from './store.ts';
import { checkKey, checkPrefix, checkValue } from './store-checks.ts';
import { StoreError } from './store-error.ts';

const DIRECTORY_MODE = 0o700;

export interface SqliteStoreOptions {
  /**
   * A state directory an earlier version kept as one file per key: imported
   * once, when this database has no store table yet. Its files stay in place.
   */
  readonly importFrom?: string;
}

/** Prepared once; keys and values are always bound, never spliced into SQL. */
function prepare(db: DatabaseSync) {
  return {
    get: db.prepare('SELECT value FROM kv WHERE key = ?'),
    put: db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    delete: db.prepare('DELETE FROM kv WHERE key = ?'),
    // Keys sharing a prefix sort together from the prefix on (byte order), so the scan stops at the first key past them.
    from: db.prepare('SELECT key FROM kv WHERE key >= ? ORDER BY key'),
  };
}

type Statements = ReturnType<typeof prepare>;

export class SqliteStore implements Store {
  readonly #db: DatabaseSync;
  readonly #ownsDb: boolean;
  readonly #sql: Statements;
  /** How many keys were imported from an earlier version's files when this store opened (0 almost always). */
  readonly imported: number;
  #closed = false;

  /**
   * Opens the state database in `stateDir` (created 0700, an existing one
   * tightened to 0700: it holds the CA's private key), importing the files
   * an earlier version kept there. close() closes the database. Throws
   * ERR_STORE_UNUSABLE when the directory or the database cannot be used.
   */
  static open(stateDir: string): SqliteStore {
    const dir = resolve(stateDir);
    let db: DatabaseSync;
    try {
      prepareDirectory(dir);
      db = openSqliteDatabase(join(dir, STATE_DATABASE_FILE));
    } catch (error) {
      throw new StoreError('ERR_STORE_UNUSABLE', `The state directory ${dir} cannot be used: it must be a directory this process can create and own.`, {
        cause: error,
      });
    }
    try {
      return new SqliteStore(db, { importFrom: dir }, true);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** On a database opened by the caller (with `openSqliteDatabase`), which stays the caller's to close unless `ownsDb`. */
  constructor(db: DatabaseSync, options: SqliteStoreOptions = {}, ownsDb = false) {
    this.#db = db;
    this.#ownsDb = ownsDb;
    this.imported = inTransaction(db, () => createTable(db, options.importFrom));
    this.#sql = prepare(db);
  }

  async get(key: string): Promise<string | undefined> {
    this.#checkOpen();
    checkKey(key);
    return Promise.resolve(readValue(this.#sql.get, key));
  }

  async put(key: string, value: string): Promise<void> {
    this.#checkOpen();
    checkKey(key);
    checkValue(value);
    this.#sql.put.run(key, value);
    return Promise.resolve();
  }

  async delete(key: string): Promise<void> {
    this.#checkOpen();
    checkKey(key);
    this.#sql.delete.run(key);
    return Promise.resolve();
  }

  async list(prefix: string): Promise<string[]> {
    this.#checkOpen();
    checkPrefix(prefix);
    const keys: string[] = [];
    for (const row of this.#sql.from.iterate(prefix)) {
      const key = row.key as string;
      if (!key.startsWith(prefix)) break;
      keys.push(key);
    }
    // SQLite orders by UTF-8 bytes, JavaScript by UTF-16 units: sort as MemoryStore does.
    return Promise.resolve(keys.sort());
  }

  async compareAndSet(key: string, expected: string | undefined, value: string): Promise<boolean> {
    this.#checkOpen();
    checkKey(key);
    checkValue(value);
    const sql = this.#sql;
    return Promise.resolve(
      inTransaction(this.#db, () => {
        if (readValue(sql.get, key) !== expected) return false;
        sql.put.run(key, value);
        return true;
      }),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Every call runs to its end synchronously: nothing is in flight here.
    this.#closed = true;
    if (this.#ownsDb) this.#db.close();
    return Promise.resolve();
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreError('ERR_STORE_CLOSED', 'The store is closed.');
  }
}

function readValue(get: StatementSync, key: string): string | undefined {
  const row = get.get(key);
  return row === undefined ? undefined : (row.value as string);
}

/**
 * Creates the table, importing an earlier version's files in the same
 * transaction: a failed import leaves no table, so the next start tries
 * again. Keyed on the table and not on the file, because another part may
 * have created the database first.
 */
function createTable(db: DatabaseSync, importFrom: string | undefined): number {
  if (db.prepare("SELECT 1 AS found FROM sqlite_schema WHERE type = 'table' AND name = 'kv'").get() !== undefined) return 0;
  db.exec('CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID');
  if (importFrom === undefined) return 0;
  const insert = db.prepare('INSERT INTO kv (key, value) VALUES (?, ?)');
  let count = 0;
  for (const [key, value] of importFileStore(importFrom)) {
    insert.run(key, value);
    count += 1;
  }
  return count;
}

function prepareDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: DIRECTORY_MODE });
  const info = statSync(dir);
  if (!info.isDirectory()) throw new Error(`${dir} is not a directory`);
  if ((info.mode & 0o777) !== DIRECTORY_MODE) chmodSync(dir, DIRECTORY_MODE);
}
