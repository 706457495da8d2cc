/**
 * The dispatcher for the device login's calls to the identity provider:
 * its CA, if one was given, and the same outbound proxy path as every other
 * connection the connector opens (outbound-proxy.ts). Undefined when
 * neither applies, so that the platform's fetch is used as it is.
 */
import { Agent, buildConnector } from 'undici';
import { ConnectorError } from '../errors/connector-error.ts';
import { connectThroughProxy } from './outbound-proxy.ts';
import { shouldProxy, type OutboundProxySettings } from './proxy-settings.ts';

/** An undici connector that tunnels through the proxy unless NO_PROXY says otherwise, then runs TLS over the tunnel. */
export function proxiedConnector(settings: OutboundProxySettings, tls: buildConnector.BuildOptions): buildConnector.connector {
  const direct = buildConnector(tls);
  return (options, callback) => {
    const https = options.protocol === 'https:';
    const port = options.port === '' ? (https ? 443 : 80) : Number(options.port);
    const host = options.hostname.replace(/^\[|\]$/g, '');
    const proxy = settings.proxy;
    if (!proxy || !shouldProxy(settings, host, port)) {
      direct(options, callback);
      return;
    }
    connectThroughProxy(proxy, { host, port }).then(
      (tunnel) => (https ? direct({ ...options, httpSocket: tunnel }, callback) : callback(null, tunnel)),
      (error: unknown) => callback(error as Error, null),
    );
  };
}

/** The proxy's own failure under fetch's `TypeError: fetch failed`, to report it as it is rather than as the identity provider's. */
export function proxyFailureIn(error: unknown): ConnectorError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current !== undefined && current !== null; depth++) {
    if (current instanceof ConnectorError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The dispatcher for the identity provider's calls, or undefined for the platform's default. */
export function idpDispatcher(settings: OutboundProxySettings, ca: readonly string[] | undefined): Agent | undefined {
  if (ca === undefined && !settings.proxy) return undefined;
  const tls = ca === undefined ? {} : { ca: [...ca] };
  return new Agent({ connect: settings.proxy ? proxiedConnector(settings, tls) : tls });
}
