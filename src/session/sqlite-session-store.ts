/**
 * The session store on the state database: what a restart must not forget
 * (a sign-out, a used sign-in state, a group list kept server side) is in
 * the same SQLite file as the rest of the instance's state.
 *
 * It keeps the memory store's safety rules, so that moving to disk changes
 * what survives a restart and nothing else: every table is bounded; side
 * data a live session needs is never dropped to make room (a newcomer is
 * refused instead); a revocation pushed out of a full list moves a floor up,
 * and every session issued at or before it is refused (fail closed). The
 * floor is stored too, or a restart would bring evicted revocations back.
 *
 * Entry counts and bytes are kept by triggers in one row per table, so that
 * checking a bound costs one lookup and not a scan of 100,000 rows. Expired
 * rows are purged a few at a time on every write, and all at once when a
 * table is full, so the file stays within the bounds.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { MAX_REVOKED_SESSIONS, MAX_SESSION_SIDE_BYTES, MAX_SESSION_SIDE_ENTRIES, MAX_USED_SIGNIN_STATES, SESSION_STORE_PURGE_BATCH } from '../limits.ts';
import { inTransaction, openSqliteDatabase } from '../store/sqlite-database.ts';
import { revokesIssuedBefore } from './idp-session.ts';
import { anyRevoked, sideDataBytes, type MemorySessionStoreOptions, type SessionSideData, type SessionStore } from './session-store.ts';

export type SqliteSessionStoreOptions = MemorySessionStoreOptions;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS session_revoked (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT NOT NULL UNIQUE,
  issued_at REAL NOT NULL,
  until REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS session_revoked_until ON session_revoked (until);
CREATE TABLE IF NOT EXISTS session_used_state (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  state_key TEXT NOT NULL UNIQUE,
  until REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS session_used_state_until ON session_used_state (until);
CREATE TABLE IF NOT EXISTS session_side (
  session_id TEXT PRIMARY KEY,
  data TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  until REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS session_side_until ON session_side (until);
CREATE TABLE IF NOT EXISTS session_totals (
  name TEXT PRIMARY KEY,
  entries INTEGER NOT NULL,
  bytes INTEGER NOT NULL
);
INSERT OR IGNORE INTO session_totals (name, entries, bytes) VALUES ('revoked', 0, 0), ('used_state', 0, 0), ('side', 0, 0);
CREATE TABLE IF NOT EXISTS session_floor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  refuse_issued_at_or_before REAL NOT NULL
);
CREATE TRIGGER IF NOT EXISTS session_revoked_added AFTER INSERT ON session_revoked
  BEGIN UPDATE session_totals SET entries = entries + 1 WHERE name = 'revoked'; END;
CREATE TRIGGER IF NOT EXISTS session_revoked_removed AFTER DELETE ON session_revoked
  BEGIN UPDATE session_totals SET entries = entries - 1 WHERE name = 'revoked'; END;
CREATE TRIGGER IF NOT EXISTS session_used_state_added AFTER INSERT ON session_used_state
  BEGIN UPDATE session_totals SET entries = entries + 1 WHERE name = 'used_state'; END;
CREATE TRIGGER IF NOT EXISTS session_used_state_removed AFTER DELETE ON session_used_state
  BEGIN UPDATE session_totals SET entries = entries - 1 WHERE name = 'used_state'; END;
CREATE TRIGGER IF NOT EXISTS session_side_added AFTER INSERT ON session_side
  BEGIN UPDATE session_totals SET entries = entries + 1, bytes = bytes + new.bytes WHERE name = 'side'; END;
CREATE TRIGGER IF NOT EXISTS session_side_removed AFTER DELETE ON session_side
  BEGIN UPDATE session_totals SET entries = entries - 1, bytes = bytes - old.bytes WHERE name = 'side'; END;
`;

interface Totals {
  readonly entries: number;
  readonly bytes: number;
}

/** Prepared once; the table names are fixed, the values always bound. */
function prepare(db: DatabaseSync) {
  const purgeSome = (table: string): StatementSync =>
    db.prepare(`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE until <= ? LIMIT ${SESSION_STORE_PURGE_BATCH})`);
  return {
    totals: db.prepare('SELECT entries, bytes FROM session_totals WHERE name = ?'),
    floor: db.prepare('SELECT refuse_issued_at_or_before AS floor FROM session_floor WHERE id = 1'),
    raiseFloor: db.prepare(
      `INSERT INTO session_floor (id, refuse_issued_at_or_before) VALUES (1, ?1)
       ON CONFLICT (id) DO UPDATE SET refuse_issued_at_or_before = max(refuse_issued_at_or_before, excluded.refuse_issued_at_or_before)`,
    ),
    revokedPurge: purgeSome('session_revoked'),
    revokedDelete: db.prepare('DELETE FROM session_revoked WHERE session_id = ?'),
    revokedOldest: db.prepare('DELETE FROM session_revoked WHERE seq = (SELECT min(seq) FROM session_revoked) RETURNING issued_at AS issuedAt'),
    revokedInsert: db.prepare('INSERT INTO session_revoked (session_id, issued_at, until) VALUES (?, ?, ?)'),
    // The floor and the entries of up to three keys (a session, its provider session, its user) in one statement:
    // one row with no entry, or one per entry.
    revokedAny: db.prepare(
      `SELECT f.floor AS floor, r.session_id AS sessionId, r.issued_at AS issuedAt
         FROM (SELECT (SELECT refuse_issued_at_or_before FROM session_floor WHERE id = 1) AS floor) AS f
         LEFT JOIN session_revoked AS r ON r.session_id IN (?, ?, ?) AND r.until > ?`,
    ),
    usedPurge: purgeSome('session_used_state'),
    usedFind: db.prepare('SELECT until FROM session_used_state WHERE state_key = ?'),
    usedDelete: db.prepare('DELETE FROM session_used_state WHERE state_key = ?'),
    usedOldest: db.prepare('DELETE FROM session_used_state WHERE seq = (SELECT min(seq) FROM session_used_state)'),
    usedInsert: db.prepare('INSERT INTO session_used_state (state_key, until) VALUES (?, ?)'),
    sidePurge: purgeSome('session_side'),
    sidePurgeAll: db.prepare('DELETE FROM session_side WHERE until <= ?'),
    sideSize: db.prepare('SELECT bytes FROM session_side WHERE session_id = ?'),
    sideDelete: db.prepare('DELETE FROM session_side WHERE session_id = ?'),
    sideInsert: db.prepare('INSERT INTO session_side (session_id, data, bytes, until) VALUES (?, ?, ?, ?)'),
    sideGet: db.prepare('SELECT data FROM session_side WHERE session_id = ? AND until > ?'),
  };
}

/** The embedded default for one gateway instance: bounded, on disk, in the state database. */
export class SqliteSessionStore implements SessionStore {
  readonly #db: DatabaseSync;
  readonly #ownsDb: boolean;
  readonly #sql: ReturnType<typeof prepare>;
  readonly #maxRevoked: number;
  readonly #maxUsedStates: number;
  readonly #maxSideEntries: number;
  readonly #maxSideBytes: number;
  readonly #options: SqliteSessionStoreOptions;
  /**
   * The gate's "none of these keys is revoked", kept for the rest of the second it was read in: a statement costs the
   * gateway tens of microseconds, and every request asks. Any revocation through this store clears it at once; one
   * written by another process on the same file counts from the next second.
   */
  #notRevoked = new WeakMap<readonly string[], { readonly at: number; readonly issuedAt: number }>();

  /** Opens (creating when absent) the state database at `path`; close() closes it. */
  static open(path: string, options: SqliteSessionStoreOptions = {}): SqliteSessionStore {
    return new SqliteSessionStore(openSqliteDatabase(path), options, true);
  }

  /** On a database opened by the caller (with `openSqliteDatabase`), which stays the caller's to close. */
  constructor(db: DatabaseSync, options: SqliteSessionStoreOptions = {}, ownsDb = false) {
    this.#db = db;
    this.#ownsDb = ownsDb;
    this.#options = options;
    this.#maxRevoked = options.maxRevoked ?? MAX_REVOKED_SESSIONS;
    this.#maxUsedStates = options.maxUsedStates ?? MAX_USED_SIGNIN_STATES;
    this.#maxSideEntries = options.maxSideEntries ?? MAX_SESSION_SIDE_ENTRIES;
    this.#maxSideBytes = options.maxSideBytes ?? MAX_SESSION_SIDE_BYTES;
    inTransaction(db, () => db.exec(SCHEMA));
    this.#sql = prepare(db);
  }

  revoke(sessionId: string, issuedAt: number, until: number, now: number): Promise<void> {
    let overflow: number | undefined;
    inTransaction(this.#db, () => {
      const sql = this.#sql;
      sql.revokedPurge.run(now);
      sql.revokedDelete.run(sessionId);
      while (this.#totals('revoked').entries >= this.#maxRevoked) {
        const evicted = sql.revokedOldest.get() as { issuedAt: number } | undefined;
        if (!evicted) break;
        if (evicted.issuedAt > this.#floor()) {
          sql.raiseFloor.run(evicted.issuedAt);
          overflow = evicted.issuedAt;
        }
      }
      sql.revokedInsert.run(sessionId, issuedAt, until);
      sql.sideDelete.run(sessionId);
    });
    this.#notRevoked = new WeakMap();
    // After the commit: the floor is durable before anyone hears of it.
    if (overflow !== undefined) this.#options.onRevocationOverflow?.(overflow);
    return Promise.resolve();
  }

  isRevoked(sessionId: string, issuedAt: number, now: number): Promise<boolean> {
    return Promise.resolve(this.#anyRevokedNow([sessionId], issuedAt, now));
  }

  /** One statement for the gate's every request, instead of one per key. */
  isAnyRevoked(keys: readonly string[], issuedAt: number, now: number): Promise<boolean> {
    if (keys.length === 0 || keys.length > 3) return anyRevoked(this, keys, issuedAt, now);
    const second = Math.floor(now);
    const known = this.#notRevoked.get(keys);
    if (known !== undefined && known.at === second && known.issuedAt === issuedAt) return Promise.resolve(false);
    const revoked = this.#anyRevokedNow(keys, issuedAt, now);
    // Only frozen key lists are remembered: the gate's, made once per session record.
    if (!revoked && Object.isFrozen(keys)) this.#notRevoked.set(keys, { at: second, issuedAt });
    return Promise.resolve(revoked);
  }

  #anyRevokedNow(keys: readonly string[], issuedAt: number, now: number): boolean {
    const rows = this.#sql.revokedAny.all(keys[0]!, keys[1] ?? keys[0]!, keys[2] ?? keys[0]!, now) as Array<{
      floor: number | null;
      sessionId: string | null;
      issuedAt: number | null;
    }>;
    const floor = rows[0]?.floor ?? null;
    if (floor !== null && issuedAt <= floor) return true;
    return rows.some((row) => row.sessionId !== null && row.issuedAt !== null && (!revokesIssuedBefore(row.sessionId) || issuedAt <= row.issuedAt));
  }

  consumeState(stateKey: string, until: number, now: number): Promise<boolean> {
    const fresh = inTransaction(this.#db, () => {
      const sql = this.#sql;
      sql.usedPurge.run(now);
      const used = sql.usedFind.get(stateKey) as { until: number } | undefined;
      if (used && used.until > now) return false;
      if (used) sql.usedDelete.run(stateKey);
      // A used state pushed out is one whose sign-in is long over: the transaction cookie that carried it has expired too.
      while (this.#totals('used_state').entries >= this.#maxUsedStates) {
        if (sql.usedOldest.run().changes === 0) break;
      }
      sql.usedInsert.run(stateKey, until);
      return true;
    });
    return Promise.resolve(fresh);
  }

  putSideData(sessionId: string, data: SessionSideData, until: number, now: number): Promise<boolean> {
    const size = sideDataBytes(data);
    let full: Totals | undefined;
    const stored = inTransaction(this.#db, () => {
      const sql = this.#sql;
      sql.sidePurge.run(now);
      if (!this.#sideFits(sessionId, size)) {
        sql.sidePurgeAll.run(now);
        if (!this.#sideFits(sessionId, size)) {
          full = this.#totals('side');
          return false;
        }
      }
      sql.sideDelete.run(sessionId);
      sql.sideInsert.run(sessionId, JSON.stringify(data), size, until);
      return true;
    });
    if (full) this.#options.onSideDataFull?.(full);
    return Promise.resolve(stored);
  }

  /** Every read goes to the database: always fresh. */
  getSideData(sessionId: string, now: number, _fresh?: boolean): Promise<SessionSideData | undefined> {
    const row = this.#sql.sideGet.get(sessionId, now) as { data: string } | undefined;
    return Promise.resolve(row ? (JSON.parse(row.data) as SessionSideData) : undefined);
  }

  /** Closes the database when this store opened it. */
  close(): void {
    if (this.#ownsDb && this.#db.isOpen) this.#db.close();
  }

  #sideFits(sessionId: string, size: number): boolean {
    const replaced = this.#sql.sideSize.get(sessionId) as { bytes: number } | undefined;
    const totals = this.#totals('side');
    const entries = totals.entries - (replaced ? 1 : 0);
    const bytes = totals.bytes - (replaced?.bytes ?? 0);
    return entries < this.#maxSideEntries && bytes + size <= this.#maxSideBytes;
  }

  #totals(name: 'revoked' | 'used_state' | 'side'): Totals {
    return this.#sql.totals.get(name) as unknown as Totals;
  }

  #floor(): number {
    const row = this.#sql.floor.get() as { floor: number } | undefined;
    return row?.floor ?? Number.NEGATIVE_INFINITY;
  }
}
