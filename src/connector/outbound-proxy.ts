/**
 * The one way the connector goes through an outbound proxy: an HTTP
 * `CONNECT host:port` (over TLS to an `https://` proxy), after which the
 * socket is a plain byte pipe to the service. The connector's own TLS
 * (client certificate, the service CA it trusts) then runs inside it, end
 * to end: the proxy sees only ciphertext. Every dial and every HTTPS call
 * comes here: the tunnel's TLS dial directly, the HTTPS calls and the
 * WebSocket upgrade through ProxiedHttpsAgent, the identity provider's
 * fetch through proxiedConnector.
 */
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import type { ClientRequestArgs } from 'node:http';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { ConnectorError } from '../errors/connector-error.ts';
import { TUNNEL_DIAL_TIMEOUT_MS } from '../limits.ts';
import { shouldProxy, type OutboundProxy, type OutboundProxySettings } from './proxy-settings.ts';

/** A proxy's answer to CONNECT is a status line and a few headers; more is not a proxy. */
const MAX_PROXY_ANSWER_BYTES = 16 * 1024;

export interface ConnectThroughProxyOptions {
  readonly host: string;
  readonly port: number;
  readonly signal?: AbortSignal | undefined;
  /** Connecting to the proxy and its answer. Default TUNNEL_DIAL_TIMEOUT_MS. */
  readonly timeoutMs?: number | undefined;
}

function authority(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

function unreachable(proxy: OutboundProxy, what: string, reason: string, cause?: unknown): ConnectorError {
  return new ConnectorError(
    'ERR_PROXY_UNREACHABLE',
    `The outbound proxy ${proxy.display} is unreachable: ${what}. Check HTTPS_PROXY (or --proxy) and that this host may reach the proxy.`,
    { reason, ...(cause === undefined ? {} : { cause }) },
  );
}

function refusal(proxy: OutboundProxy, target: string, statusLine: string, status: number): ConnectorError {
  if (status === 407) {
    return new ConnectorError(
      'ERR_PROXY_AUTH_REQUIRED',
      proxy.authorization
        ? `The outbound proxy ${proxy.display} refused the credentials in its URL (407 Proxy Authentication Required). Check the user name and password.`
        : `The outbound proxy ${proxy.display} requires authentication (407 Proxy Authentication Required). Give the credentials in the proxy URL: http://USER:PASSWORD@host:port (percent-encode special characters).`,
      { reason: 'proxy_auth_required' },
    );
  }
  // A gateway error from the proxy is the proxy failing to reach the service, which may pass.
  const passing = status === 502 || status === 503 || status === 504;
  return new ConnectorError(
    'ERR_PROXY_REFUSED',
    `The outbound proxy ${proxy.display} refused to open a tunnel to ${target}: ${statusLine}. ` +
      (passing ? 'The proxy could not reach the service.' : "Ask the proxy's administrators to allow CONNECT to that host and port."),
    { reason: `proxy_status_${status}`, retryable: passing },
  );
}

/** Opens the connection to the proxy itself: TCP, and TLS for an `https://` proxy. */
function dialProxy(proxy: OutboundProxy): Socket {
  if (proxy.protocol === 'http:') return netConnect({ host: proxy.host, port: proxy.port });
  return tlsConnect({
    host: proxy.host,
    port: proxy.port,
    ...(isIP(proxy.host) === 0 ? { servername: proxy.host } : {}),
    ALPNProtocols: ['http/1.1'],
  });
}

/**
 * Asks `proxy` for a tunnel to `host:port`; resolves with the socket once
 * the proxy answered 2xx. Rejects with ERR_PROXY_UNREACHABLE,
 * ERR_PROXY_AUTH_REQUIRED, ERR_PROXY_REFUSED or ERR_ABORTED; no message
 * carries the proxy's credentials.
 */
export function connectThroughProxy(proxy: OutboundProxy, options: ConnectThroughProxyOptions): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const { signal } = options;
    if (signal?.aborted) {
      reject(new ConnectorError('ERR_ABORTED', 'Stopped.', { retryable: false, reason: 'aborted' }));
      return;
    }
    const target = authority(options.host, options.port);
    const timeoutMs = options.timeoutMs ?? TUNNEL_DIAL_TIMEOUT_MS;
    const socket = dialProxy(proxy);
    let received = Buffer.alloc(0);
    const settle = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('end', onEnd);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (error: ConnectorError): void => {
      settle();
      socket.destroy();
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) {
        if (received.length > MAX_PROXY_ANSWER_BYTES) fail(unreachable(proxy, 'its answer to CONNECT is not HTTP', 'proxy_bad_answer'));
        return;
      }
      const statusLine = received.subarray(0, received.indexOf('\r\n')).toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
      if (!match) {
        fail(unreachable(proxy, 'its answer to CONNECT is not HTTP', 'proxy_bad_answer'));
        return;
      }
      const status = Number(match[1]);
      if (status < 200 || status > 299) {
        fail(refusal(proxy, target, `HTTP ${status}${match[2] ? ` ${match[2].slice(0, 200)}` : ''}`, status));
        return;
      }
      settle();
      socket.pause();
      // Bytes after the answer already belong to the tunnel (a server that speaks first).
      const rest = received.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    const onError = (error: NodeJS.ErrnoException): void => {
      const code = error.code ?? 'unknown';
      const what = code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'its host name does not resolve' : `the connection failed (${code})`;
      fail(unreachable(proxy, what, code, error));
    };
    const onEnd = (): void => fail(unreachable(proxy, 'it closed the connection before answering CONNECT', 'proxy_closed'));
    const onAbort = (): void => fail(new ConnectorError('ERR_ABORTED', 'Stopped.', { retryable: false, reason: 'aborted' }));
    const timer = setTimeout(() => fail(unreachable(proxy, `no answer to CONNECT within ${Math.round(timeoutMs / 1000)} s`, 'timeout')), timeoutMs);
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('end', onEnd);
    signal?.addEventListener('abort', onAbort, { once: true });
    const headers = [`CONNECT ${target} HTTP/1.1`, `Host: ${target}`, 'User-Agent: gatehouse-connector/1'];
    if (proxy.authorization) headers.push(`Proxy-Authorization: ${proxy.authorization}`);
    socket.write(`${headers.join('\r\n')}\r\n\r\n`);
  });
}

/** The target of a request, as the agent was asked for it. */
function targetOf(options: ClientRequestArgs): { host: string; port: number } {
  const host = (options.host ?? options.hostname ?? 'localhost').replace(/^\[|\]$/g, '');
  return { host, port: Number(options.port ?? 443) };
}

/**
 * An https.Agent that opens each connection through the proxy when the
 * target is not in NO_PROXY, then runs TLS (with the agent's and the
 * request's options: client certificate, CA, ALPN, server name) over it.
 */
export class ProxiedHttpsAgent extends HttpsAgent {
  readonly #settings: OutboundProxySettings;
  readonly #timeoutMs: number | undefined;

  constructor(options: AgentOptions, settings: OutboundProxySettings, timeoutMs?: number) {
    super(options);
    this.#settings = settings;
    this.#timeoutMs = timeoutMs;
  }

  override createConnection(options: ClientRequestArgs, callback?: (error: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const { host, port } = targetOf(options);
    const proxy = this.#settings.proxy;
    if (!proxy || !shouldProxy(this.#settings, host, port) || !callback) return super.createConnection(options, callback);
    connectThroughProxy(proxy, { host, port, timeoutMs: this.#timeoutMs }).then(
      (tunnel) => {
        const tls = tlsConnect({ ...(options as ConnectionOptions), host, socket: tunnel });
        callback(null, tls);
      },
      (error: unknown) => callback(error as Error, undefined as unknown as Duplex),
    );
    return undefined;
  }
}
