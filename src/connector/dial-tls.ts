/**
 * The default tunnel transport: a TLS connection to the service's connector
 * listener with the connector's client certificate and ALPN
 * `gatehouse-tunnel/1`; HTTP/2 then runs over it.
 */
import type { Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { ConnectorError } from '../errors/connector-error.ts';
import { TUNNEL_DIAL_TIMEOUT_MS } from '../limits.ts';
import { TUNNEL_ALPN } from '../protocol/tunnel-wire.ts';
import { abortedError, dialContext, dialTimeoutError, type TunnelDialOptions } from './dial-options.ts';
import { connectThroughProxy } from './outbound-proxy.ts';
import { shouldProxy } from './proxy-settings.ts';
import { parseServiceUrl } from './service-client.ts';
import { mapTransportError } from './service-errors.ts';

const NO_APPLICATION_PROTOCOL = 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL';

function alpnRefused(url: URL, chosen: string): ConnectorError {
  return new ConnectorError(
    'ERR_SERVICE_TLS',
    `${url.origin} did not accept the tunnel protocol ${TUNNEL_ALPN} (it chose ${chosen}). ` +
      'Either the service is older than this connector, or a TLS-inspecting proxy is in the way: exempt the connector from inspection, or use the websocket transport.',
    { reason: 'alpn', retryable: true },
  );
}

/**
 * TLS with ALPN `gatehouse-tunnel/1`, through the outbound proxy's CONNECT
 * tunnel when one applies. A service (or a TLS-intercepting proxy) that does
 * not choose that protocol is reported, retryably: the service may be
 * upgraded, and the operator may switch to `websocket`.
 */
export async function dialTlsTunnel(options: TunnelDialOptions): Promise<TLSSocket> {
  // Throws a TypeError for a bad URL: the promise rejects with it.
  const url = parseServiceUrl(options.serviceUrl);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port === '' ? 443 : Number(url.port);
  const proxy = options.proxy?.proxy;
  const timeoutMs = options.timeoutMs ?? TUNNEL_DIAL_TIMEOUT_MS;
  const tunnel =
    proxy && options.proxy && shouldProxy(options.proxy, host, port)
      ? await connectThroughProxy(proxy, { host, port, signal: options.signal, timeoutMs })
      : undefined;
  return handshake(options, url, host, port, tunnel);
}

function handshake(options: TunnelDialOptions, url: URL, host: string, port: number, tunnel: Socket | undefined): Promise<TLSSocket> {
  return new Promise<TLSSocket>((resolve, reject) => {
    const context = dialContext(url);
    const timeoutMs = options.timeoutMs ?? TUNNEL_DIAL_TIMEOUT_MS;
    const { signal } = options;
    if (signal?.aborted) {
      tunnel?.destroy();
      reject(abortedError());
      return;
    }
    const socket = tlsConnect({
      host,
      port,
      // The service's TLS, client certificate included, runs inside the proxy's tunnel: the proxy sees ciphertext.
      ...(tunnel ? { socket: tunnel } : {}),
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
