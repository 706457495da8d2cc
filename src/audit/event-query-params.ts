import { z } from 'zod';
import { AUDIT_QUERY_DEFAULT_LIMIT, AUDIT_QUERY_MAX_LIMIT, AUDIT_QUERY_MAX_PARAM_LENGTH, AUDIT_QUERY_MAX_TYPES } from '../limits.ts';
import { AUDIT_EVENT_TYPES } from './events.ts';
import type { EventQuery } from './recent-events.ts';

export type QueryParameter = 'type' | 'user' | 'app' | 'since' | 'until' | 'limit' | 'outcome' | 'reason' | 'requestId';

export type ParsedEventQuery =
  | { readonly ok: true; readonly query: EventQuery & { readonly types: readonly string[]; readonly limit: number } }
  /** `parameter` is one of ours (never echoed from the request), or undefined for an unknown one. */
  | { readonly ok: false; readonly parameter: QueryParameter | undefined; readonly message: string };

const PARAMETERS: readonly QueryParameter[] = ['type', 'user', 'app', 'since', 'until', 'limit', 'outcome', 'reason', 'requestId'];
/** The filters on what an event says (beyond the 1..256 printable characters every value has), each with the message a bad value gets. */
const FILTERS = {
  outcome: { schema: z.enum(['success', 'failure', 'info']), message: '"outcome" must be success, failure or info.' },
  reason: { schema: z.string().max(128), message: '"reason" must be at most 128 characters.' },
  requestId: { schema: z.string().regex(/^[\x21-\x7e]{1,128}$/), message: '"requestId" must be 1 to 128 visible ASCII characters.' },
} as const;
const KNOWN_TYPES = new Set<string>(AUDIT_EVENT_TYPES);
const FAMILIES = new Set(AUDIT_EVENT_TYPES.filter((type) => type.includes('.')).map((type) => `${type.slice(0, type.indexOf('.'))}.*`));
/** RFC 3339 date-time with an explicit offset: a time without one would mean the server's zone. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;
const PRINTABLE = /^[\x20-\x7e\u00a0-\uffff]+$/;

/**
 * Reads `type` (repeatable, or comma-separated; a type or a family such as
 * `connector.*`), `user`, `app`, `since` and `until` (RFC 3339 times) and
 * `limit` (1..AUDIT_QUERY_MAX_LIMIT, default AUDIT_QUERY_DEFAULT_LIMIT),
 * `outcome`, `reason` (contained in the event's reason or code) and `requestId`.
 * Anything else — an unknown or repeated parameter, an unknown type, a
 * malformed time — is refused rather than ignored, so a typo never silently
 * widens a query.
 */
export function parseEventQuery(params: URLSearchParams): ParsedEventQuery {
  const fail = (parameter: QueryParameter | undefined, message: string): ParsedEventQuery => ({ ok: false, parameter, message });
  const values = new Map<QueryParameter, string[]>();
  for (const [key, value] of params) {
    const parameter = PARAMETERS.find((known) => known === key);
    if (parameter === undefined) return fail(undefined, `The query has a parameter this endpoint does not know. Use ${PARAMETERS.join(', ')}.`);
    if (value.length === 0 || value.length > AUDIT_QUERY_MAX_PARAM_LENGTH || !PRINTABLE.test(value)) {
      return fail(parameter, `"${parameter}" must be 1 to ${AUDIT_QUERY_MAX_PARAM_LENGTH} printable characters.`);
    }
    values.set(parameter, [...(values.get(parameter) ?? []), value]);
  }
  for (const [parameter, list] of values) {
    if (parameter !== 'type' && list.length > 1) return fail(parameter, `"${parameter}" may be given once.`);
  }
  const single = (parameter: QueryParameter): string | undefined => values.get(parameter)?.[0];

  const types = (values.get('type') ?? []).flatMap((value) => value.split(',')).map((type) => type.trim());
  if (types.length > AUDIT_QUERY_MAX_TYPES) return fail('type', `"type" may name at most ${AUDIT_QUERY_MAX_TYPES} types.`);
  if (types.some((type) => !KNOWN_TYPES.has(type) && !FAMILIES.has(type))) {
    return fail('type', '"type" must name audit event types (see docs/audit-events.md) or families such as "connector.*".');
  }

  const time = (parameter: 'since' | 'until'): number | undefined | null => {
    const value = single(parameter);
    if (value === undefined) return undefined;
    const parsed = ISO_TIME.test(value) ? Date.parse(value) : Number.NaN;
    return Number.isFinite(parsed) ? parsed : null;
  };
  const since = time('since');
  if (since === null) return fail('since', '"since" must be an RFC 3339 time with a zone, e.g. "2025-01-31T08:00:00Z".');
  const until = time('until');
  if (until === null) return fail('until', '"until" must be an RFC 3339 time with a zone, e.g. "2025-01-31T09:00:00Z".');
  if (since !== undefined && until !== undefined && since >= until) return fail('until', '"until" must be later than "since".');

  const limitText = single('limit');
  const limit = limitText === undefined ? AUDIT_QUERY_DEFAULT_LIMIT : /^\d{1,7}$/.test(limitText) ? Number(limitText) : 0;
  if (limit < 1 || limit > AUDIT_QUERY_MAX_LIMIT) return fail('limit', `"limit" must be a whole number from 1 to ${AUDIT_QUERY_MAX_LIMIT}.`);

  const outcome = FILTERS.outcome.schema.optional().safeParse(single('outcome'));
  if (!outcome.success) return fail('outcome', FILTERS.outcome.message);
  const reason = FILTERS.reason.schema.optional().safeParse(single('reason'));
  if (!reason.success) return fail('reason', FILTERS.reason.message);
  const requestId = FILTERS.requestId.schema.optional().safeParse(single('requestId'));
  if (!requestId.success) return fail('requestId', FILTERS.requestId.message);

  const user = single('user');
  const app = single('app');
  return {
    ok: true,
    query: {
      types,
      limit,
      ...(user === undefined ? {} : { user }),
      ...(app === undefined ? {} : { app }),
      ...(since === undefined ? {} : { since }),
      ...(until === undefined ? {} : { until }),
      ...(outcome.data === undefined ? {} : { outcome: outcome.data }),
      ...(reason.data === undefined ? {} : { reason: reason.data }),
      ...(requestId.data === undefined ? {} : { requestId: requestId.data }),
    },
  };
}
