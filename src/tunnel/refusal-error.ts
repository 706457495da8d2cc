/** The service's reading of a connector's refusal: the error code, the sentence, and that nothing reached the app. */
import type { TunnelErrorCode } from '../errors/tunnel-codes.ts';
import { TunnelError } from '../errors/tunnel-error.ts';
import { isTunnelRefusal, REFUSAL_STATUS, type TunnelRefusal } from '../protocol/tunnel-wire.ts';

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
