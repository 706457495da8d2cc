/**
 * What both ways of dialling a tunnel share: the options, and the errors
 * that mean the same thing whichever transport was dialling.
 */
import { ConnectorError } from '../errors/connector-error.ts';
import type { ClientIdentity } from './identity-files.ts';
import type { OutboundProxySettings } from './proxy-settings.ts';
import type { CallContext } from './service-errors.ts';

export type TunnelTransport = 'tls' | 'websocket';

export interface TunnelDialOptions {
  /** The service's connector listener, e.g. "https://gatehouse.example.com:8444". */
  readonly serviceUrl: string | URL;
  readonly identity: ClientIdentity;
  /** PEM bundle that signs the service's certificate; default the system roots. */
  readonly ca?: string;
  /** Name to verify; default the URL's host name. */
  readonly servername?: string;
  /** Default `tls`. */
  readonly transport?: TunnelTransport;
  readonly signal?: AbortSignal;
  /** TCP, TLS and (websocket) the upgrade. Default TUNNEL_DIAL_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  /** The outbound proxy to tunnel through (HTTP CONNECT); default: direct. TLS with the service runs inside it either way. */
  readonly proxy?: OutboundProxySettings;
}

export function dialContext(serviceUrl: URL): CallContext {
  return { serviceUrl: serviceUrl.origin, withIdentity: true, withToken: false };
}

export function abortedError(): ConnectorError {
  return new ConnectorError('ERR_ABORTED', 'Stopped.', { retryable: false, reason: 'aborted' });
}

export function dialTimeoutError(serviceUrl: URL, timeoutMs: number): ConnectorError {
  return new ConnectorError('ERR_SERVICE_TIMEOUT', `The service at ${serviceUrl.origin} did not accept the tunnel within ${Math.round(timeoutMs / 1000)} s.`, {
    reason: 'timeout',
  });
}
