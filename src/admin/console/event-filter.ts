/**
 * The sign-ins and denials page's filters, read from its query string. All of them go
 * to the recent events' query, the one `GET /admin/events` runs: the page filters with
 * the same function as the API and a script, and filters nothing itself.
 */
import type { EventQuery } from '../../audit/recent-events.ts';

export const EVENT_KINDS = {
  all: { label: 'All events', types: [] },
  signins: { label: 'Sign-ins', types: ['signin.*', 'admin.console_signin'] },
  denials: { label: 'Denials', types: ['access.denied', 'policy.decision', 'request.rejected', 'session.rejected', 'bearer.rejected'] },
  connectors: { label: 'Connectors', types: ['connector.*'] },
  console: { label: 'Console', types: ['admin.*'] },
} as const satisfies Record<string, { label: string; types: readonly string[] }>;

export type EventKind = keyof typeof EVENT_KINDS;

export interface EventFilters {
  readonly user?: string | undefined;
  readonly app?: string | undefined;
  readonly outcome?: 'success' | 'failure' | 'info' | undefined;
  readonly reason?: string | undefined;
  readonly request?: string | undefined;
  readonly kind: EventKind;
}

const MAX_FILTER_LENGTH = 256;
/** How many matching events one page shows. */
export const EVENTS_SHOWN = 200;

export function readFilters(params: URLSearchParams): EventFilters {
  const text = (name: string): string | undefined => {
    const value = params.get(name)?.trim();
    return value === undefined || value === '' ? undefined : value.slice(0, MAX_FILTER_LENGTH);
  };
  const outcome = text('outcome');
  const kind = text('kind');
  return {
    user: text('user'),
    app: text('app'),
    outcome: outcome === 'success' || outcome === 'failure' || outcome === 'info' ? outcome : undefined,
    reason: text('reason'),
    request: text('request'),
    kind: kind !== undefined && Object.hasOwn(EVENT_KINDS, kind) ? (kind as EventKind) : 'all',
  };
}

export function recentQuery(filters: EventFilters): EventQuery {
  return {
    ...(filters.user !== undefined ? { user: filters.user } : {}),
    ...(filters.app !== undefined ? { app: filters.app } : {}),
    ...(filters.outcome !== undefined ? { outcome: filters.outcome } : {}),
    ...(filters.reason !== undefined ? { reason: filters.reason } : {}),
    ...(filters.request !== undefined ? { requestId: filters.request } : {}),
    types: EVENT_KINDS[filters.kind].types,
    limit: EVENTS_SHOWN,
  };
}
