import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
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
