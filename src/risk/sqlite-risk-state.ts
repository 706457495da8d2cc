/**
 * Risk counters on the state database, so that a restart keeps a user's
 * failed sign-ins and remembered networks. The bounds are the memory
 * state's: at most `maxUsers` users and `maxAddresses` addresses with
 * failures, `maxUsers` users with a network history; the least recently
 * active is forgotten first. Key counts are kept by triggers, so a bound
 * costs one lookup; expired keys are deleted a few at a time on every write
 * (their rows go with them: ON DELETE CASCADE).
 */
import type { DatabaseSync } from 'node:sqlite';
import { SESSION_STORE_PURGE_BATCH } from '../limits.ts';
import { inTransaction, openSqliteDatabase } from '../store/sqlite-database.ts';
import type { RiskStateBounds } from './memory-risk-state.ts';
import type { FailureKind, RiskState, RiskStats } from './risk-state.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS risk_failure_key (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  last_at REAL NOT NULL,
  until REAL NOT NULL,
  UNIQUE (kind, key)
);
CREATE INDEX IF NOT EXISTS risk_failure_key_last ON risk_failure_key (kind, last_at);
CREATE INDEX IF NOT EXISTS risk_failure_key_until ON risk_failure_key (until);
CREATE TABLE IF NOT EXISTS risk_failure (
  key_id INTEGER NOT NULL REFERENCES risk_failure_key (id) ON DELETE CASCADE,
  at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS risk_failure_at ON risk_failure (key_id, at);
CREATE TABLE IF NOT EXISTS risk_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  sub TEXT NOT NULL UNIQUE,
  last_at REAL NOT NULL,
  until REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS risk_history_last ON risk_history (last_at);
CREATE INDEX IF NOT EXISTS risk_history_until ON risk_history (until);
CREATE TABLE IF NOT EXISTS risk_network (
  history_id INTEGER NOT NULL REFERENCES risk_history (id) ON DELETE CASCADE,
  network TEXT NOT NULL,
  last_seen REAL NOT NULL,
  PRIMARY KEY (history_id, network)
);
CREATE TABLE IF NOT EXISTS risk_totals (name TEXT PRIMARY KEY, entries INTEGER NOT NULL, evicted INTEGER NOT NULL);
INSERT OR IGNORE INTO risk_totals (name, entries, evicted) VALUES ('user', 0, 0), ('address', 0, 0), ('history', 0, 0);
CREATE TRIGGER IF NOT EXISTS risk_failure_key_added AFTER INSERT ON risk_failure_key
  BEGIN UPDATE risk_totals SET entries = entries + 1 WHERE name = new.kind; END;
CREATE TRIGGER IF NOT EXISTS risk_failure_key_removed AFTER DELETE ON risk_failure_key
  BEGIN UPDATE risk_totals SET entries = entries - 1 WHERE name = old.kind; END;
CREATE TRIGGER IF NOT EXISTS risk_history_added AFTER INSERT ON risk_history
  BEGIN UPDATE risk_totals SET entries = entries + 1 WHERE name = 'history'; END;
CREATE TRIGGER IF NOT EXISTS risk_history_removed AFTER DELETE ON risk_history
  BEGIN UPDATE risk_totals SET entries = entries - 1 WHERE name = 'history'; END;
`;

function prepare(db: DatabaseSync) {
  return {
    totals: db.prepare('SELECT entries, evicted FROM risk_totals WHERE name = ?'),
    evictedOne: db.prepare('UPDATE risk_totals SET evicted = evicted + 1 WHERE name = ?'),
    keyPurge: db.prepare(`DELETE FROM risk_failure_key WHERE id IN (SELECT id FROM risk_failure_key WHERE until <= ? LIMIT ${SESSION_STORE_PURGE_BATCH})`),
    keyFind: db.prepare('SELECT id FROM risk_failure_key WHERE kind = ? AND key = ?'),
    keyInsert: db.prepare('INSERT INTO risk_failure_key (kind, key, last_at, until) VALUES (?, ?, ?, ?) RETURNING id'),
    keyTouch: db.prepare('UPDATE risk_failure_key SET last_at = ?, until = max(until, ?) WHERE id = ?'),
    keyOldest: db.prepare('DELETE FROM risk_failure_key WHERE id = (SELECT id FROM risk_failure_key WHERE kind = ? ORDER BY last_at LIMIT 1)'),
    failureExpire: db.prepare('DELETE FROM risk_failure WHERE key_id = ? AND at <= ?'),
    failureInsert: db.prepare('INSERT INTO risk_failure (key_id, at) VALUES (?, ?)'),
    failureTrim: db.prepare(
      'DELETE FROM risk_failure WHERE key_id = ?1 AND rowid NOT IN (SELECT rowid FROM risk_failure WHERE key_id = ?1 ORDER BY at DESC, rowid DESC LIMIT ?2)',
    ),
    failureCount: db.prepare('SELECT count(*) AS count FROM risk_failure JOIN risk_failure_key k ON k.id = key_id WHERE k.kind = ? AND k.key = ? AND at > ?'),
    historyPurge: db.prepare(`DELETE FROM risk_history WHERE id IN (SELECT id FROM risk_history WHERE until <= ? LIMIT ${SESSION_STORE_PURGE_BATCH})`),
    historyFind: db.prepare('SELECT id FROM risk_history WHERE sub = ?'),
    historyInsert: db.prepare('INSERT INTO risk_history (sub, last_at, until) VALUES (?, ?, ?) RETURNING id'),
    historyTouch: db.prepare('UPDATE risk_history SET last_at = ?, until = ? WHERE id = ?'),
    historyOldest: db.prepare('DELETE FROM risk_history WHERE id = (SELECT id FROM risk_history ORDER BY last_at LIMIT 1)'),
    networkExpire: db.prepare('DELETE FROM risk_network WHERE history_id = ? AND last_seen <= ?'),
    networkPut: db.prepare(
      // REPLACE gives the row a new rowid: among networks seen in the same millisecond, the last one used is kept.
      'INSERT OR REPLACE INTO risk_network (history_id, network, last_seen) VALUES (?, ?, ?)',
    ),
    networkTrim: db.prepare(
      'DELETE FROM risk_network WHERE history_id = ?1 AND rowid NOT IN (SELECT rowid FROM risk_network WHERE history_id = ?1 ORDER BY last_seen DESC, rowid DESC LIMIT ?2)',
    ),
    networkList: db.prepare(
      'SELECT network, last_seen AS lastSeen FROM risk_network JOIN risk_history h ON h.id = history_id WHERE h.sub = ? AND last_seen > ?',
    ),
  };
}

interface Totals {
  readonly entries: number;
  readonly evicted: number;
}

/** Risk counters in the state database; they survive a restart, and every process on the file shares them. */
export class SqliteRiskState implements RiskState {
  readonly #db: DatabaseSync;
  readonly #ownsDb: boolean;
  readonly #sql: ReturnType<typeof prepare>;
  readonly #max: Record<FailureKind | 'history', number>;

  /** Opens (creating when absent) the state database at `path`; close() closes it. */
  static open(path: string, bounds: RiskStateBounds): SqliteRiskState {
    return new SqliteRiskState(openSqliteDatabase(path), bounds, true);
  }

  /** On a database opened by the caller (with `openSqliteDatabase`), which stays the caller's to close. */
  constructor(db: DatabaseSync, bounds: RiskStateBounds, ownsDb = false) {
    this.#db = db;
    this.#ownsDb = ownsDb;
    this.#max = { user: bounds.maxUsers, address: bounds.maxAddresses, history: bounds.maxUsers };
    inTransaction(db, () => db.exec(SCHEMA));
    this.#sql = prepare(db);
  }

  recordFailure(kind: FailureKind, key: string, nowMs: number, windowMs: number, keep: number): Promise<void> {
    const sql = this.#sql;
    inTransaction(this.#db, () => {
      sql.keyPurge.run(nowMs);
      let id = (sql.keyFind.get(kind, key) as { id: number } | undefined)?.id;
      if (id === undefined) {
        this.#makeRoom(kind, () => sql.keyOldest.run(kind).changes);
        id = (sql.keyInsert.get(kind, key, nowMs, nowMs + windowMs) as { id: number }).id;
      } else {
        sql.keyTouch.run(nowMs, nowMs + windowMs, id);
        sql.failureExpire.run(id, nowMs - windowMs);
      }
      sql.failureInsert.run(id, nowMs);
      sql.failureTrim.run(id, keep);
    });
    return Promise.resolve();
  }

  failuresInWindow(kind: FailureKind, key: string, nowMs: number, windowMs: number): Promise<number> {
    return Promise.resolve((this.#sql.failureCount.get(kind, key, nowMs - windowMs) as { count: number }).count);
  }

  networks(sub: string, sinceMs: number): Promise<ReadonlyMap<string, number>> {
    const rows = this.#sql.networkList.all(sub, sinceMs) as unknown as { network: string; lastSeen: number }[];
    return Promise.resolve(new Map(rows.map((row) => [row.network, row.lastSeen])));
  }

  rememberNetwork(sub: string, network: string, nowMs: number, keep: number, forgetAfterMs: number): Promise<void> {
    const sql = this.#sql;
    inTransaction(this.#db, () => {
      sql.historyPurge.run(nowMs);
      let id = (sql.historyFind.get(sub) as { id: number } | undefined)?.id;
      if (id === undefined) {
        this.#makeRoom('history', () => sql.historyOldest.run().changes);
        id = (sql.historyInsert.get(sub, nowMs, nowMs + forgetAfterMs) as { id: number }).id;
      } else {
        sql.historyTouch.run(nowMs, nowMs + forgetAfterMs, id);
        sql.networkExpire.run(id, nowMs - forgetAfterMs);
      }
      sql.networkPut.run(id, network, nowMs);
      sql.networkTrim.run(id, keep);
    });
    return Promise.resolve();
  }

  stats(): RiskStats {
    const user = this.#totals('user');
    const address = this.#totals('address');
    const history = this.#totals('history');
    return {
      usersWithFailures: user.entries,
      addressesWithFailures: address.entries,
      usersWithHistory: history.entries,
      evicted: { usersWithFailures: user.evicted, addressesWithFailures: address.evicted, usersWithHistory: history.evicted },
    };
  }

  close(): void {
    if (this.#ownsDb && this.#db.isOpen) this.#db.close();
  }

  /** Forgets the least recently active entries until a new one fits. */
  #makeRoom(name: FailureKind | 'history', deleteOldest: () => number | bigint): void {
    while (this.#totals(name).entries >= this.#max[name]) {
      if (Number(deleteOldest()) === 0) break;
      this.#sql.evictedOne.run(name);
    }
  }

  #totals(name: FailureKind | 'history'): Totals {
    return this.#sql.totals.get(name) as unknown as Totals;
  }
}
