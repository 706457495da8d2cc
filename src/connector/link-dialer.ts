/**
 * Opens one tunnel connection to the service's connector listener, outbound,
 * with the connector's client certificate. The transport is a connector
 * setting: `tls` (default) is a TLS connection with ALPN
 * `gatehouse-tunnel/1`; `websocket` is the fallback for networks whose
 * proxies pass only WebSocket. Either way the result is a connected duplex
 * for TunnelServer. Failures are ConnectorErrors that say whether to retry.
 */
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { TUNNEL_DIAL_TIMEOUT_MS } from '../limits.ts';
import { TUNNEL_ALPN } from '../tunnel/tunnel-protocol.ts';
import { ConnectorError } from '../errors/connector-error.ts';
import type { ClientIdentity } from './identity-files.ts';
import { parseServiceUrl } from './service-client.ts';
import { mapTransportError, type CallContext } from './service-errors.ts';
import { dialWebSocketTunnel } from './transport-websocket.ts';

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

const NO_APPLICATION_PROTOCOL = 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL';

function alpnRefused(url: URL, chosen: string): ConnectorError {
  return new ConnectorError(
    'ERR_SERVICE_TLS',
    `${url.origin} did not accept the tunnel protocol ${TUNNEL_ALPN} (it chose ${chosen}). ` +
      'Either the service is older than this connector, or a TLS-inspecting proxy is in the way: exempt the connector from inspection, or use the websocket transport.',
    { reason: 'alpn', retryable: true },
  );
}

/** Opens a tunnel with the chosen transport. */
export function dialTunnel(options: TunnelDialOptions): Promise<Duplex> {
  return options.transport === 'websocket' ? dialWebSocketTunnel(options) : dialTlsTunnel(options);
}

/**
 * TLS with ALPN `gatehouse-tunnel/1`. A service (or a TLS-intercepting
 * proxy) that does not choose that protocol is reported, retryably: the
 * service may be upgraded, and the operator may switch to `websocket`.
 */
export function dialTlsTunnel(options: TunnelDialOptions): Promise<TLSSocket> {
  return new Promise<TLSSocket>((resolve, reject) => {
    // Throws a TypeError for a bad URL: the promise rejects with it.
    const url = parseServiceUrl(options.serviceUrl);
    const context = dialContext(url);
    const timeoutMs = options.timeoutMs ?? TUNNEL_DIAL_TIMEOUT_MS;
    const { signal } = options;
    if (signal?.aborted) {
      reject(abortedError());
      return;
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const socket = tlsConnect({
      host,
      port: url.port === '' ? 443 : Number(url.port),
      ...(options.servername !== undefined ? { servername: options.servername } : {}),
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      key: options.identity.keyPem,
      cert: options.identity.certPem,
      ALPNProtocols: [TUNNEL_ALPN],
      rejectUnauthorized: true,
    });
    const settle = (): void => {
      clearTimeout(timer);
      socket.off('secureConnect', onSecure);
      socket.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (error: ConnectorError): void => {
      settle();
      socket.destroy();
      reject(error);
    };
    const onSecure = (): void => {
      if (socket.alpnProtocol !== TUNNEL_ALPN) {
        fail(alpnRefused(url, socket.alpnProtocol === false ? 'none' : String(socket.alpnProtocol)));
        return;
      }
      settle();
      // The HTTP/2 session attached next reports errors; this covers the moment before it is.
      socket.on('error', () => undefined);
      // Small frames must not wait for ACKs (Nagle's algorithm).
      socket.setNoDelay(true);
      resolve(socket);
    };
    const onError = (error: NodeJS.ErrnoException): void =>
      // A server that offers ALPN without our protocol answers with a TLS alert instead of choosing none.
      fail(error.code === NO_APPLICATION_PROTOCOL ? alpnRefused(url, 'none') : mapTransportError(error, context));
    const onAbort = (): void => fail(abortedError());
    const timer = setTimeout(() => fail(dialTimeoutError(url, timeoutMs)), timeoutMs);
    socket.once('secureConnect', onSecure);
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
