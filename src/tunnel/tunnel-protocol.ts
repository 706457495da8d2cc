/**
 * What both ends of a tunnel agree on: the ALPN name, the shape of a CONNECT
 * stream, the refusal reasons a connector answers with, the HTTP/2 settings,
 * and the PING heartbeat.
 *
 * The tunnel is HTTP/2 in reverse (docs/tunnel-protocol.md): the connector dials
 * out, the service is the HTTP/2 client and opens one CONNECT stream
 * (RFC 9113 §8.5) per backend connection. The stream names an app id, never
 * a host:port: the connector alone maps app ids to internal URLs.
 */
import type { Http2Session, Settings } from 'node:http2';
import { TUNNEL_CONNECTION_WINDOW_BYTES, TUNNEL_MAX_FRAME_BYTES, TUNNEL_MAX_HEADER_LIST_BYTES, TUNNEL_STREAM_WINDOW_BYTES } from '../limits.ts';
import { TunnelError } from '../errors/tunnel-error.ts';
import type { TunnelErrorCode } from '../errors/tunnel-codes.ts';
import { APP_ID_PATTERN } from '../protocol/names.ts';

/** Told apart from the listener's REST calls (`http/1.1`) by ALPN. */
export const TUNNEL_ALPN = 'gatehouse-tunnel/1';

/** The WebSocket fallback: an HTTP/1.1 upgrade on the connector listener. */
export const TUNNEL_WEBSOCKET_PATH = '/.gatehouse/connector/tunnel';
/** Sec-WebSocket-Protocol of the fallback ("/" is not a token character, RFC 9110 §5.6.2). */
export const TUNNEL_WEBSOCKET_PROTOCOL = 'gatehouse-tunnel.1';

/** CONNECT request headers, besides `:authority`. */
export const HEADER_APP = 'gatehouse-app';
export const HEADER_REQUEST_ID = 'gatehouse-request-id';
/**
 * On a refusal: one of the TunnelRefusal reasons. Also a trailer of an
 * accepted stream whose app connection failed (`origin_reset`): Node may
 * send a stream's END_STREAM before an RST_STREAM queued behind a write and
 * then drop the RST, so the failure travels with the END_STREAM itself.
 */
export const HEADER_ERROR = 'gatehouse-error';
export const TRAILER_ORIGIN_RESET = 'origin_reset';

/** Request ids end up in the connector's logs: a safe alphabet, bounded. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** `.invalid` (RFC 6761 §6.4): the authority names an app and can never resolve to a host. */
const AUTHORITY_SUFFIX = '.app.invalid:443';

export function isAppId(value: unknown): value is string {
  return typeof value === 'string' && APP_ID_PATTERN.test(value);
}

export function isRequestId(value: unknown): value is string {
  return typeof value === 'string' && REQUEST_ID.test(value);
}

/** The `:authority` of the CONNECT stream for an app. */
export function appAuthority(appId: string): string {
  return `${appId}${AUTHORITY_SUFFIX}`;
}

/**
 * The app id a CONNECT stream names, or undefined when its `:authority` and
 * `gatehouse-app` header do not name the same well-formed app id.
 */
export function appIdOfConnect(authority: unknown, appHeader: unknown): string | undefined {
  if (!isAppId(appHeader)) return undefined;
  return authority === appAuthority(appHeader) ? appHeader : undefined;
}

/** Why a connector refused a CONNECT stream, sent as `gatehouse-error`. */
export type TunnelRefusal =
  | 'bad_method'
  | 'bad_target'
  | 'unknown_app'
  | 'origin_refused'
  | 'origin_timeout'
  | 'origin_tls'
  /** The connector's own allow-list does not allow the app's address (nothing was dialled). */
  | 'target_refused'
  | 'draining';

export const REFUSAL_STATUS: Readonly<Record<TunnelRefusal, number>> = Object.freeze({
  bad_method: 405,
  bad_target: 400,
  unknown_app: 403,
  origin_refused: 502,
  origin_timeout: 504,
  origin_tls: 502,
  target_refused: 403,
  draining: 503,
});

const REFUSAL_CODES: Readonly<Record<TunnelRefusal, TunnelErrorCode>> = Object.freeze({
  bad_method: 'ERR_TUNNEL_PROTOCOL',
  bad_target: 'ERR_TUNNEL_UNKNOWN_APP',
  unknown_app: 'ERR_TUNNEL_UNKNOWN_APP',
  origin_refused: 'ERR_TUNNEL_ORIGIN_REFUSED',
  origin_timeout: 'ERR_TUNNEL_ORIGIN_TIMEOUT',
  origin_tls: 'ERR_TUNNEL_ORIGIN_TLS',
  target_refused: 'ERR_TUNNEL_UNKNOWN_APP',
  draining: 'ERR_TUNNEL_CLOSED',
});

const REFUSAL_MESSAGES: Readonly<Record<TunnelRefusal, string>> = Object.freeze({
  bad_method: 'The connector refused the stream: not a CONNECT.',
  bad_target: 'The connector refused the stream: it does not name an app.',
  unknown_app: 'The connector refused the app: it is not in its configuration.',
  origin_refused: 'The connector could not connect to the app.',
  origin_timeout: 'The connector could not connect to the app in time.',
  origin_tls: 'The connector could not set up TLS with the app.',
  target_refused: "The connector refused the app: its address is outside the connector's allow-list.",
  draining: 'The connector is draining and takes no new streams.',
});

export function isTunnelRefusal(value: unknown): value is TunnelRefusal {
  return typeof value === 'string' && Object.hasOwn(REFUSAL_STATUS, value);
}

/** The error for a connector's non-200 answer to a CONNECT. Nothing reached the app. */
export function refusalError(status: number, refusal: unknown, connectorId: string): TunnelError {
  if (isTunnelRefusal(refusal) && REFUSAL_STATUS[refusal] === status) {
    return new TunnelError(REFUSAL_CODES[refusal], REFUSAL_MESSAGES[refusal], { beforeUpstream: true, reason: refusal, connectorId });
  }
  return new TunnelError('ERR_TUNNEL_PROTOCOL', `The connector answered the CONNECT with HTTP ${status}.`, {
    beforeUpstream: true,
    reason: `status_${status}`,
    connectorId,
  });
}

/**
 * HTTP/2 settings both ends advertise: larger windows and frames than the
 * defaults (64 KiB windows cap bulk throughput, measured: docs/benchmarks.md), small
 * header lists (a CONNECT carries four headers), no server push.
 */
export function tunnelSettings(maxConcurrentStreams: number): Settings {
  return {
    enablePush: false,
    initialWindowSize: TUNNEL_STREAM_WINDOW_BYTES,
    maxFrameSize: TUNNEL_MAX_FRAME_BYTES,
    maxHeaderListSize: TUNNEL_MAX_HEADER_LIST_BYTES,
    maxConcurrentStreams,
  };
}

/** Opens the connection-level receive window (SETTINGS cannot: RFC 9113 §6.9.2). */
export function widenConnectionWindow(session: Http2Session): void {
  if (session.destroyed) return;
  session.setLocalWindowSize(TUNNEL_CONNECTION_WINDOW_BYTES);
}

export interface HeartbeatOptions {
  readonly intervalMs: number;
  /** No PING answer within this long: the tunnel is dead even if TCP has not noticed. */
  readonly timeoutMs: number;
  readonly onDead: () => void;
}

/**
 * PINGs the peer every `intervalMs` (one outstanding at a time) and calls
 * `onDead` once when an answer does not come back within `timeoutMs`.
 * Returns the function that stops it.
 */
export function startHeartbeat(session: Http2Session, options: HeartbeatOptions): () => void {
  let deadline: NodeJS.Timeout | undefined;
  let stopped = false;
  const stop = (): void => {
    stopped = true;
    clearInterval(interval);
    clearTimeout(deadline);
  };
  const tick = (): void => {
    if (stopped || deadline !== undefined || session.destroyed || session.closed) return;
    deadline = setTimeout(() => {
      stop();
      options.onDead();
    }, options.timeoutMs);
    deadline.unref();
    const sent = session.ping((error) => {
      // A cancelled PING means the session is going away; its own events say so.
      if (stopped || error) return;
      clearTimeout(deadline);
      deadline = undefined;
    });
    if (!sent) {
      clearTimeout(deadline);
      deadline = undefined;
    }
  };
  const interval = setInterval(tick, options.intervalMs);
  interval.unref();
  return stop;
}
