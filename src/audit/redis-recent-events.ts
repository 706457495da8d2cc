/**
 * The recent audit events in Redis: one capped list, `gatehouse:audit:recent`,
 * newest first, that every gateway instance pushes to (LPUSH and LTRIM in
 * one MULTI), so the admin query on any instance sees the events of all.
 *
 * write() does not wait: it runs on the request path. While Redis is down
 * the write fails fast and the event is missing from the window (the SIEM
 * or the file sink keeps it); a query then fails, and the admin API answers
 * its error.
 */
import type { RedisConnection } from '../store/redis-connection.ts';
import type { AuditEvent } from './events.ts';
import { checkRecentCapacity, eventFilter, type RecentEvents } from './recent-events.ts';

export const RECENT_EVENTS_KEY = 'gatehouse:audit:recent';
/** Events read per LRANGE while a query looks for matches. */
const PAGE = 500;

export interface RedisRecentEventsOptions {
  /** A write failed. Must not throw. */
  readonly onError?: (error: unknown) => void;
}

export class RedisRecentEvents implements RecentEvents {
  readonly capacity: number;
  readonly #redis: RedisConnection;
  readonly #onError: ((error: unknown) => void) | undefined;

  /** Over the gateway's shared connection, which stays the caller's to close. */
  constructor(redis: RedisConnection, capacity: number, options: RedisRecentEventsOptions = {}) {
    checkRecentCapacity(capacity, 'RedisRecentEvents');
    this.capacity = capacity;
    this.#redis = redis;
    this.#onError = options.onError;
  }

  write(event: AuditEvent): void {
    const report = (error: unknown): void => {
      try {
        this.#onError?.(error);
      } catch {
        // A sink must not throw on the request path.
      }
    };
    this.#redis.client
      .multi()
      .lpush(RECENT_EVENTS_KEY, JSON.stringify(event))
      .ltrim(RECENT_EVENTS_KEY, 0, this.capacity - 1)
      .exec()
      .then((results) => {
        const failed = results?.find(([error]) => error !== null)?.[0];
        if (failed) report(failed);
      }, report);
  }

  async query(query = {}): Promise<AuditEvent[]> {
    const filter = eventFilter(query, this.capacity);
    const found: AuditEvent[] = [];
    // Events pushed while we page shift the list: what moved onto the next page is read twice, and counted once.
    const seen = new Set<string>();
    for (let start = 0; start < this.capacity && found.length < filter.limit; start += PAGE) {
      const stop = Math.min(start + PAGE, this.capacity) - 1;
      const page = await this.#redis.client.lrange(RECENT_EVENTS_KEY, start, stop);
      for (const text of page) {
        const event = JSON.parse(text) as AuditEvent;
        if (seen.has(event.id)) continue;
        seen.add(event.id);
        if (filter.matches(event, Date.parse(event.time))) found.push(event);
        if (found.length >= filter.limit) break;
      }
      if (page.length < stop - start + 1) break;
    }
    return found;
  }
}
