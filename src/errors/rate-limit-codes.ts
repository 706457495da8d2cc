/**
 * The code of a request refused by a rate limit (`limits.rate`), on the
 * gateway and on the connector listener alike. Part of the gateway's codes
 * (GATEWAY_ERRORS), kept apart for size.
 */
import type { ErrorRow } from './row.ts';

export const RATE_LIMIT_ERRORS = {
  ERR_RATE_LIMITED: {
    status: 429,
    step: 'request',
    title: 'Too many requests',
    message: 'Too many requests came from your network address in a short time. Wait a moment (the Retry-After header says how long) and try again.',
    expose: false,
    retryable: true,
  },
} as const satisfies Readonly<Record<`ERR_${string}`, ErrorRow>>;
