/**
 * The tunnel's codes: what went wrong carrying one request through a
 * connector. They never reach the user as such: each row names the gateway
 * code the user is shown (`shownAs`), which says who failed in the user's
 * terms (no connector, the connector lost, or the app), and answers with
 * that code's status. The tunnel's own code and reason go to the audit log.
 */
import type { GatewayErrorCode } from './gateway-codes.ts';
import type { ErrorRow } from './row.ts';

export interface TunnelErrorRow extends ErrorRow {
  readonly shownAs: GatewayErrorCode;
}

export const TUNNEL_ERRORS = {
  ERR_TUNNEL_NO_CONNECTOR: {
    status: 503,
    step: 'forwarding',
    title: 'No connector',
    message: "No live tunnel for the app's connector group.",
    expose: false,
    retryable: true,
    shownAs: 'ERR_NO_CONNECTOR',
  },
  ERR_TUNNEL_STREAM_LIMIT: {
    status: 503,
    step: 'forwarding',
    title: 'Tunnels full',
    message: 'Every tunnel of the group is at its stream limit.',
    expose: false,
    retryable: true,
    shownAs: 'ERR_NO_CONNECTOR',
  },
  ERR_TUNNEL_APP_SHARE: {
    status: 503,
    step: 'forwarding',
    title: "App at its share of the group's streams",
    message: "The app holds its share of its connector group's tunnel streams; its request waited or was refused so the group's other apps keep theirs.",
    expose: false,
    retryable: true,
    shownAs: 'ERR_APP_BUSY',
  },
  ERR_TUNNEL_CLOSED: {
    status: 502,
    step: 'forwarding',
    title: 'Tunnel closed',
    message: 'The tunnel closed, drained or died.',
    expose: false,
    retryable: true,
    shownAs: 'ERR_CONNECTOR_LOST',
  },
  ERR_TUNNEL_PROTOCOL: {
    status: 502,
    step: 'forwarding',
    title: 'Tunnel protocol error',
    message: 'The connector answered something the tunnel protocol does not define.',
    expose: false,
    retryable: false,
    shownAs: 'ERR_CONNECTOR_LOST',
  },
  ERR_TUNNEL_UNKNOWN_APP: {
    status: 502,
    step: 'forwarding',
    title: 'App refused by the connector',
    message: 'The connector refused the app: not in its configuration or its allow-list, or a malformed target.',
    expose: false,
    retryable: false,
    shownAs: 'ERR_BACKEND_UNREACHABLE',
  },
  ERR_TUNNEL_ORIGIN_REFUSED: {
    status: 502,
    step: 'forwarding',
    title: 'App unreachable from the connector',
    message: 'The connector could not connect to the app.',
    expose: false,
    retryable: true,
    shownAs: 'ERR_BACKEND_UNREACHABLE',
  },
  ERR_TUNNEL_ORIGIN_TLS: {
    status: 502,
    step: 'forwarding',
    title: 'TLS to the app failed',
    message: 'The connector could not set up TLS with the app (an untrusted certificate, a wrong name).',
    expose: false,
    retryable: false,
    shownAs: 'ERR_BACKEND_UNREACHABLE',
  },
  ERR_TUNNEL_ORIGIN_RESET: {
    status: 502,
    step: 'forwarding',
    title: 'Connection to the app failed',
    message: "The app's connection failed after it was established.",
    expose: false,
    retryable: false,
    shownAs: 'ERR_BACKEND_UNREACHABLE',
  },
  ERR_TUNNEL_ORIGIN_TIMEOUT: {
    status: 504,
    step: 'forwarding',
    title: 'App timed out',
    message: 'The app (or the connector) did not answer in time.',
    expose: false,
    retryable: true,
    shownAs: 'ERR_BACKEND_TIMEOUT',
  },
} as const satisfies Readonly<Record<`ERR_${string}`, TunnelErrorRow>>;

export type TunnelErrorCode = keyof typeof TUNNEL_ERRORS;
