import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { inTransaction, openSqliteDatabase } from '../store/sqlite-database.ts';
import type { AuditEvent } from './events.ts';
import type { AuditOutbox } from './ring-queue.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL,
  event TEXT NOT NULL
)`;

/**
 * The webhook sink's outbox in the state database: an event is a row from
 * `write()` until the receiver acknowledged the batch it went in, so a crash
 * (or a receiver down across a restart) loses nothing, and what is pending
 * at start is sent first, in the order it was written. Delivery is
 * at-least-once: a crash between the receiver's 2xx and the delete sends
 * that batch again, with the same event ids.
 *
 * AUTOINCREMENT keeps `seq` growing even after the newest row is deleted,
 * so "rows after the batch taken" stays the right set. The connection runs
 * with `synchronous = NORMAL`: in WAL mode a committed row survives the
 * process being killed, and `write()`, on the request path, does not wait
 * for a disk flush per event (a power cut may lose the last few).
 */
export class SqliteOutbox implements AuditOutbox {
  readonly #db: DatabaseSync;
  readonly #capacity: number;
  readonly #insert: StatementSync;
  readonly #evictOldest: StatementSync;
  readonly #select: StatementSync;
  readonly #delete: StatementSync;
  /** The newest row of the batch taken (0 before the first): rows after it are waiting. */
  #takenUpTo = 0;
  #waiting: number;

  /** Opens (creating when absent) the outbox table in the state database at `path`. */
  static open(path: string, capacity: number): SqliteOutbox {
    return new SqliteOutbox(openSqliteDatabase(path), capacity);
  }

  constructor(db: DatabaseSync, capacity: number) {
    this.#db = db;
    this.#capacity = capacity;
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec(SCHEMA);
    this.#insert = db.prepare('INSERT INTO audit_outbox (id, event) VALUES (?, ?)');
    this.#evictOldest = db.prepare('DELETE FROM audit_outbox WHERE seq = (SELECT min(seq) FROM audit_outbox WHERE seq > ?) RETURNING event');
    this.#select = db.prepare('SELECT seq, event FROM audit_outbox WHERE seq > ? ORDER BY seq LIMIT ?');
    this.#delete = db.prepare('DELETE FROM audit_outbox WHERE seq <= ?');
    const row = db.prepare('SELECT count(*) AS waiting FROM audit_outbox').get() as { waiting: number };
    this.#waiting = row.waiting;
  }

  get length(): number {
    return this.#waiting;
  }

  push(event: AuditEvent): AuditEvent | undefined {
    // Serialized first: an event JSON cannot represent throws before the table is touched.
    const text = JSON.stringify(event);
    if (this.#waiting < this.#capacity) {
      this.#insert.run(event.id, text);
      this.#waiting += 1;
      return undefined;
    }
    // One transaction for both: a crash never leaves the oldest dropped and the newest not kept.
    const evicted = inTransaction(this.#db, () => {
      const row = this.#evictOldest.get(this.#takenUpTo) as { event: string } | undefined;
      this.#insert.run(event.id, text);
      return row;
    });
    if (evicted === undefined) {
      this.#waiting += 1;
      return undefined;
    }
    return JSON.parse(evicted.event) as AuditEvent;
  }

  take(count: number): AuditEvent[] {
    const rows = this.#select.all(this.#takenUpTo, count) as { seq: number; event: string }[];
    const last = rows.at(-1);
    if (last === undefined) return [];
    this.#takenUpTo = last.seq;
    this.#waiting = Math.max(0, this.#waiting - rows.length);
    return rows.map((row) => JSON.parse(row.event) as AuditEvent);
  }

  ack(): void {
    this.#delete.run(this.#takenUpTo);
  }

  close(): AuditEvent[] {
    this.#db.close();
    return [];
  }
}
