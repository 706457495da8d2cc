/**
 * The gateway's codes for slow clients on the public listener: a request
 * whose headers or body arrive too slowly (`server.headersTimeout`,
 * `limits.body`), and a connection refused because its peer address holds as
 * many as `limits.connections.perIp` allows. Part of the gateway's codes
 * (GATEWAY_ERRORS), kept apart for size.
 */
import type { ErrorRow } from './row.ts';

export const SLOW_CLIENT_ERRORS = {
  ERR_REQUEST_TIMEOUT: {
    status: 408,
    step: 'request',
    title: 'Request timeout',
    message: 'The request did not arrive in time: its headers or its body came too slowly. Check the network connection and try again.',
    expose: false,
    // Sent again over the same link, it would come as slowly: not a failure that passes by itself.
    retryable: false,
  },
  ERR_TOO_MANY_CONNECTIONS: {
    status: 503,
    step: 'request',
    title: 'Too many connections',
    message: 'Too many connections are open from your network address. Close some and try again.',
    expose: false,
    retryable: true,
  },
} as const satisfies Readonly<Record<`ERR_${string}`, ErrorRow>>;
