import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inTransaction, openSqliteDatabase } from '../../../src/store/sqlite-database.ts';

describe('the state database opener', function () {
  let dir: string;
  let cwd: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-sqlite-'));
    cwd = process.cwd();
  });
  afterEach(() => {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens an in-memory database without leaving a file named ":memory:" behind', function () {
    process.chdir(dir);
    const db = openSqliteDatabase(':memory:');
    db.exec('CREATE TABLE t (x)');
    db.close();
    assert.equal(existsSync(join(dir, ':memory:')), false);
  });

  it('creates the file 0600 in a 0700 folder, in WAL mode', function () {
    const path = join(dir, 'state', 'gatehouse.db');
    const db = openSqliteDatabase(path);
    try {
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(statSync(join(dir, 'state')).mode & 0o777, 0o700);
      assert.equal((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'wal');
    } finally {
      db.close();
    }
  });

  it('overwrites what it deletes: a secret removed from a table is not left in the file', function () {
    const path = join(dir, 'gatehouse.db');
    const db = openSqliteDatabase(path);
    db.exec('CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT)');
    // Large enough to fill pages of its own, which are freed (not reused) when the row goes.
    db.prepare('INSERT INTO kv VALUES (?, ?)').run('ca', `-----BEGIN PRIVATE KEY-----${'A'.repeat(50_000)}`);
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    db.prepare('DELETE FROM kv WHERE key = ?').run('ca');
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    db.close();
    assert.equal(readFileSync(path).includes('BEGIN PRIVATE KEY'), false);
  });

  it('rolls a failed transaction back whole', function () {
    const db = openSqliteDatabase(join(dir, 'gatehouse.db'));
    try {
      db.exec('CREATE TABLE t (x INTEGER)');
      assert.throws(() =>
        inTransaction(db, () => {
          db.exec('INSERT INTO t VALUES (1)');
          throw new Error('half way');
        }),
      );
      assert.equal((db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, 0);
    } finally {
      db.close();
    }
  });
});
