/**
 * What the two ends of a tunnel say to each other, byte for byte: the ALPN
 * name and the WebSocket fallback's path and subprotocol, the headers of a
 * CONNECT stream, and the refusal reasons a connector answers with. Both
 * processes import this file; a change here is a protocol change
 * (docs/tunnel-protocol.md says what may change within a version).
 *
 * The tunnel is HTTP/2 in reverse: the connector dials out, the service is
 * the HTTP/2 client and opens one CONNECT stream (RFC 9113 §8.5) per backend
 * connection. The stream names an app id, never a host:port: the connector
 * alone maps app ids to internal URLs.
 */
import { APP_ID_PATTERN } from './names.ts';

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

export function isTunnelRefusal(value: unknown): value is TunnelRefusal {
  return typeof value === 'string' && Object.hasOwn(REFUSAL_STATUS, value);
}
