import { AUDIT_QUERY_DEFAULT_LIMIT, AUDIT_RECENT_EVENTS_CAPACITY, AUDIT_RECENT_EVENTS_MAX_CAPACITY } from '../limits.ts';
import type { AuditEvent, AuditSink } from './events.ts';

export interface EventQuery {
  /** One type, or a family such as `connector.*`. */
  readonly type?: string;
  /** Several types or families; an event matching any of them (or `type`) is returned. */
  readonly types?: readonly string[];
  /** The user's `sub` exactly, or their email address in any case. */
  readonly user?: string;
  /** The app id. */
  readonly app?: string;
  /** Events at or after this time (epoch milliseconds or a Date). */
  readonly since?: number | Date;
  /** Events before this time. */
  readonly until?: number | Date;
  /** At most this many, newest first. Default AUDIT_QUERY_DEFAULT_LIMIT. */
  readonly limit?: number;
}

export interface RecentEvents extends AuditSink {
  readonly capacity: number;
  readonly size: number;
  /** Matching events, newest first. O(capacity): the capacity is the bound on the cost of a query. */
  query(query?: EventQuery): AuditEvent[];
}

/**
 * The last `capacity` events in memory, for the admin query endpoint: a
 * ring buffer, so a busy gateway forgets its oldest events rather than
 * growing. It is a window for investigation, not the record: the SIEM (or
 * the file sink) keeps the full history.
 */
export function recentEvents(capacity = AUDIT_RECENT_EVENTS_CAPACITY): RecentEvents {
  if (!(Number.isInteger(capacity) && capacity > 0 && capacity <= AUDIT_RECENT_EVENTS_MAX_CAPACITY)) {
    throw new TypeError(`recentEvents: capacity must be a whole number in 1..${AUDIT_RECENT_EVENTS_MAX_CAPACITY}`);
  }
  const events = new Array<AuditEvent | undefined>(capacity).fill(undefined);
  // Parsed once on write, so a query compares numbers.
  const times = new Float64Array(capacity);
  let next = 0;
  let size = 0;

  return {
    capacity,
    get size() {
      return size;
    },
    write(event) {
      events[next] = event;
      times[next] = Date.parse(event.time);
      next = (next + 1) % capacity;
      size = Math.min(size + 1, capacity);
    },
    query(query = {}) {
      const matchType = typeMatcher([...(query.type === undefined ? [] : [query.type]), ...(query.types ?? [])]);
      const user = query.user;
      const email = user?.toLowerCase();
      const since = query.since === undefined ? -Infinity : Number(query.since);
      const until = query.until === undefined ? Infinity : Number(query.until);
      const limit = Math.min(query.limit ?? AUDIT_QUERY_DEFAULT_LIMIT, capacity);
      const found: AuditEvent[] = [];
      for (let age = 1; age <= size && found.length < limit; age += 1) {
        const index = (next - age + capacity) % capacity;
        const event = events[index];
        const time = times[index] ?? Number.NaN;
        if (event === undefined || !(time >= since && time < until)) continue;
        if (!matchType(event.type)) continue;
        if (query.app !== undefined && event.app !== query.app) continue;
        if (user !== undefined && event.user?.sub !== user && event.user?.email?.toLowerCase() !== email) continue;
        found.push(event);
      }
      return found;
    },
  };
}

function typeMatcher(patterns: readonly string[]): (type: string) => boolean {
  if (patterns.length === 0) return () => true;
  const exact = new Set(patterns.filter((pattern) => !pattern.endsWith('.*')));
  const families = patterns.filter((pattern) => pattern.endsWith('.*')).map((pattern) => pattern.slice(0, -1));
  return (type) => exact.has(type) || families.some((family) => type.startsWith(family));
}
