/**
 * The one SQLite file a Gatehouse instance keeps its state in (through Node's
 * built-in `node:sqlite`: nothing to compile or download at install). Every
 * stateful part opens its tables on the same database, so that one file is
 * what an operator backs up, and one transaction can span what must change
 * together.
 *
 * WAL lets readers (a request checking a revocation) run beside a writer;
 * `synchronous = FULL` makes a committed write survive a power cut, which is
 * what "durable when the promise resolves" promises; a busy timeout lets two
 * processes on one file (a restart overlapping its predecessor) wait for
 * each other instead of failing.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/** How long a statement waits for another process's write lock before it fails. */
const BUSY_TIMEOUT_MS = 5000;

/** The database file in a state directory. */
export const STATE_DATABASE_FILE = 'gatehouse.db';

const IN_MEMORY = ':memory:';

/** Opens (creating when absent: the file 0600, its folder 0700) the state database at `path`. */
export function openSqliteDatabase(path: string): DatabaseSync {
  // SQLite's in-memory database (for tests) has no file to create; without this check one named ":memory:" would appear.
  if (path !== IN_MEMORY) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // Created here and not by SQLite (0644 less the umask): it holds secrets, and SQLite gives its -wal and -shm files the database's mode.
    closeSync(openSync(path, 'a', 0o600));
  }
  const db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = FULL');
  db.exec('PRAGMA foreign_keys = ON');
  // Deleted rows are overwritten, not left in free pages: a CA key stored in clear before it was encrypted, revoked sessions' ID tokens.
  db.exec('PRAGMA secure_delete = ON');
  return db;
}

/** Runs `work` in one write transaction (BEGIN IMMEDIATE: the write lock is taken at once, so two writers never deadlock on an upgrade). */
export function inTransaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = work();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}
