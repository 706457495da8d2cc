/**
 * The recent audit events in the state database: every process on the file
 * writes to one table, so the admin query on any of them sees all, and a
 * restart keeps them. At most `capacity` rows: each write deletes what fell
 * out of the window (one range delete on the primary key).
 *
 * The connection is this store's own, with `synchronous = NORMAL`: in WAL
 * mode a commit then costs no fsync, and a power cut can lose only the last
 * few events of a window that the SIEM or the file sink keeps in full.
 */
import type { DatabaseSync } from 'node:sqlite';
import { openSqliteDatabase } from '../store/sqlite-database.ts';
import type { AuditEvent } from './events.ts';
import { checkRecentCapacity, eventFilter, type RecentEvents } from './recent-events.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_recent (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time REAL NOT NULL,
  event TEXT NOT NULL
);
`;

export interface SqliteRecentEventsOptions {
  /** A write failed (the event is missing from the window; the other sinks have it). Must not throw. */
  readonly onError?: (error: unknown) => void;
}

export class SqliteRecentEvents implements RecentEvents {
  readonly capacity: number;
  readonly #db: DatabaseSync;
  readonly #insert;
  readonly #trim;
  readonly #newest;
  readonly #onError: ((error: unknown) => void) | undefined;

  /** Opens its own connection to the state database at `path` (creating it when absent); close() closes it. */
  constructor(path: string, capacity: number, options: SqliteRecentEventsOptions = {}) {
    checkRecentCapacity(capacity, 'SqliteRecentEvents');
    this.capacity = capacity;
    this.#onError = options.onError;
    this.#db = openSqliteDatabase(path);
    this.#db.exec('PRAGMA synchronous = NORMAL');
    this.#db.exec(SCHEMA);
    this.#insert = this.#db.prepare('INSERT INTO audit_recent (time, event) VALUES (?, ?)');
    this.#trim = this.#db.prepare('DELETE FROM audit_recent WHERE seq <= ?');
    this.#newest = this.#db.prepare('SELECT seq, time, event FROM audit_recent WHERE time >= ? AND time < ? ORDER BY seq DESC');
  }

  write(event: AuditEvent): void {
    try {
      const { lastInsertRowid } = this.#insert.run(Date.parse(event.time), JSON.stringify(event));
      const oldestKept = Number(lastInsertRowid) - this.capacity;
      if (oldestKept > 0) this.#trim.run(oldestKept);
    } catch (error) {
      try {
        this.#onError?.(error);
      } catch {
        // A sink must not throw on the request path.
      }
    }
  }

  query(query = {}): Promise<AuditEvent[]> {
    const filter = eventFilter(query, this.capacity);
    const found: AuditEvent[] = [];
    // The time range narrows in SQL; everything else is the shared filter, so every store answers alike.
    const since = Number.isFinite(filter.since) ? filter.since : -Number.MAX_VALUE;
    const until = Number.isFinite(filter.until) ? filter.until : Number.MAX_VALUE;
    let seen = 0;
    for (const row of this.#newest.iterate(since, until) as Iterable<{ time: number; event: string }>) {
      // Another process may have written past the capacity between its insert and its trim.
      if ((seen += 1) > this.capacity) break;
      const event = JSON.parse(row.event) as AuditEvent;
      if (filter.matches(event, row.time)) found.push(event);
      if (found.length >= filter.limit) break;
    }
    return Promise.resolve(found);
  }

  close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
    return Promise.resolve();
  }
}
