import { AUDIT_QUERY_DEFAULT_LIMIT, AUDIT_RECENT_EVENTS_CAPACITY, AUDIT_RECENT_EVENTS_MAX_CAPACITY } from '../limits.ts';
import type { AuditEvent, AuditOutcome, AuditSink } from './events.ts';

export interface EventQuery {
  /** One type, or a family such as `connector.*`. */
  readonly type?: string;
  /** Several types or families; an event matching any of them (or `type`) is returned. */
  readonly types?: readonly string[];
  /** The user's `sub` exactly, or their email address in any case. */
  readonly user?: string;
  /** The app id. */
  readonly app?: string;
  /** Only events with this outcome. */
  readonly outcome?: AuditOutcome;
  /** Events whose reason or code contains this, in any case (`policy_denied` finds ERR_POLICY_DENIED, `grant.block` a policy's reason). */
  readonly reason?: string;
  /** The request id exactly. */
  readonly requestId?: string;
  /** Events at or after this time (epoch milliseconds or a Date). */
  readonly since?: number | Date;
  /** Events before this time. */
  readonly until?: number | Date;
  /** At most this many, newest first. Default AUDIT_QUERY_DEFAULT_LIMIT. */
  readonly limit?: number;
}

export interface RecentEvents extends AuditSink {
  readonly capacity: number;
  /** Matching events, newest first. O(capacity): the capacity is the bound on the cost of a query. */
  query(query?: EventQuery): Promise<AuditEvent[]>;
}

export interface MemoryRecentEvents extends RecentEvents {
  readonly size: number;
}

/** Checks a capacity given in code (the `audit.recent.capacity` setting is checked by its schema). */
export function checkRecentCapacity(capacity: number, owner: string): void {
  if (!(Number.isInteger(capacity) && capacity > 0 && capacity <= AUDIT_RECENT_EVENTS_MAX_CAPACITY)) {
    throw new TypeError(`${owner}: capacity must be a whole number in 1..${AUDIT_RECENT_EVENTS_MAX_CAPACITY}`);
  }
}

/** An event query compiled once: the filters as one test, the time range as numbers, and the limit. Every backend filters with it, so all answer alike. */
export interface EventFilter {
  readonly since: number;
  readonly until: number;
  readonly limit: number;
  matches(event: AuditEvent, time: number): boolean;
}

export function eventFilter(query: EventQuery, capacity: number): EventFilter {
  const matchType = typeMatcher([...(query.type === undefined ? [] : [query.type]), ...(query.types ?? [])]);
  const user = query.user;
  const email = user?.toLowerCase();
  const reason = query.reason?.toLowerCase();
  const since = query.since === undefined ? -Infinity : Number(query.since);
  const until = query.until === undefined ? Infinity : Number(query.until);
  return {
    since,
    until,
    limit: Math.min(query.limit ?? AUDIT_QUERY_DEFAULT_LIMIT, capacity),
    matches(event, time) {
      if (!(time >= since && time < until)) return false;
      if (!matchType(event.type)) return false;
      if (query.app !== undefined && event.app !== query.app) return false;
      if (query.outcome !== undefined && event.outcome !== query.outcome) return false;
      if (query.requestId !== undefined && event.requestId !== query.requestId) return false;
      if (reason !== undefined && !(event.reason ?? '').toLowerCase().includes(reason) && !(event.code ?? '').toLowerCase().includes(reason)) return false;
      return user === undefined || event.user?.sub === user || event.user?.email?.toLowerCase() === email;
    },
  };
}

/**
 * The last `capacity` events in memory (this process's only; see
 * sqlite-recent-events.ts and redis-recent-events.ts for the shared ones), for the admin query endpoint: a
 * ring buffer, so a busy gateway forgets its oldest events rather than
 * growing. It is a window for investigation, not the record: the SIEM (or
 * the file sink) keeps the full history.
 */
export function recentEvents(capacity = AUDIT_RECENT_EVENTS_CAPACITY): MemoryRecentEvents {
  checkRecentCapacity(capacity, 'recentEvents');
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
      const filter = eventFilter(query, capacity);
      const found: AuditEvent[] = [];
      for (let age = 1; age <= size && found.length < filter.limit; age += 1) {
        const index = (next - age + capacity) % capacity;
        const event = events[index];
        if (event !== undefined && filter.matches(event, times[index] ?? Number.NaN)) found.push(event);
      }
      return Promise.resolve(found);
    },
  };
}

function typeMatcher(patterns: readonly string[]): (type: string) => boolean {
  if (patterns.length === 0) return () => true;
  const exact = new Set(patterns.filter((pattern) => !pattern.endsWith('.*')));
  const families = patterns.filter((pattern) => pattern.endsWith('.*')).map((pattern) => pattern.slice(0, -1));
  return (type) => exact.has(type) || families.some((family) => type.startsWith(family));
}
