/**
 * The gateway's codes for the bounds on long-lived connections: an app that
 * holds its share of its connector group's tunnel streams, and a session or
 * client address with as many WebSockets open as it may. Part of the
 * gateway's codes (GATEWAY_ERRORS), kept apart for size.
 */
import type { ErrorRow } from './row.ts';

export const STREAM_LIMIT_ERRORS = {
  ERR_APP_BUSY: {
    status: 503,
    step: 'forwarding',
    title: 'Application busy',
    message: 'The application "{app}" has as many connections open as it may right now, so this request could not be carried. Try again shortly.',
    expose: false,
    retryable: true,
  },
  ERR_TOO_MANY_WEBSOCKETS: {
    status: 429,
    step: 'request',
    title: 'Too many WebSockets',
    message: 'Too many WebSocket connections are open from this browser session or this network address. Close some (other tabs, for one) and try again.',
    expose: false,
    retryable: true,
  },
} as const satisfies Readonly<Record<`ERR_${string}`, ErrorRow>>;
