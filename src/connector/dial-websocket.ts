/**
 * The connector's side of the WebSocket fallback transport: an upgrade to
 * `wss://<service>/.gatehouse/connector/tunnel` with the client certificate,
 * for networks whose proxies pass only WebSocket. What both ends share (the
 * settings, the byte stream HTTP/2 runs over, keepalive) is in
 * src/tunnel/transport-websocket.ts.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import { TUNNEL_DIAL_TIMEOUT_MS, TUNNEL_WEBSOCKET_REFUSAL_BODY_BYTES } from '../limits.ts';
import { TUNNEL_WEBSOCKET_SETTINGS, webSocketTunnelStream } from '../tunnel/transport-websocket.ts';
import { TUNNEL_WEBSOCKET_PATH, TUNNEL_WEBSOCKET_PROTOCOL } from '../protocol/tunnel-wire.ts';
import type { ConnectorError } from '../errors/connector-error.ts';
import { abortedError, dialContext, dialTimeoutError, type TunnelDialOptions } from './dial-options.ts';
import { ProxiedHttpsAgent } from './outbound-proxy.ts';
import { shouldProxy } from './proxy-settings.ts';
import { parseServiceUrl } from './service-client.ts';
import { mapHttpError, mapTransportError } from './service-errors.ts';

/** Reads at most `limit` bytes of a refusal's body, for the error message. */
function readRefusal(res: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      res.destroy();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk.subarray(0, Math.max(0, limit - size)));
      size += chunk.length;
      if (size >= limit) done();
    });
    res.once('end', done);
    res.once('error', done);
  });
}

/** Opens the tunnel over a WebSocket; resolves with its byte stream. */
export function dialWebSocketTunnel(options: TunnelDialOptions): Promise<Duplex> {
  return new Promise<Duplex>((resolve, reject) => {
    // Throws a TypeError for a bad URL: the promise rejects with it.
    const service = parseServiceUrl(options.serviceUrl);
    const context = dialContext(service);
    const timeoutMs = options.timeoutMs ?? TUNNEL_DIAL_TIMEOUT_MS;
    const url = new URL(TUNNEL_WEBSOCKET_PATH, service);
    url.protocol = 'wss:';
    const { signal } = options;
    if (signal?.aborted) {
      reject(abortedError());
      return;
    }
    const proxy = options.proxy;
    const proxied = proxy !== undefined && shouldProxy(proxy, url.hostname.replace(/^\[|\]$/g, ''), url.port === '' ? 443 : Number(url.port));
    const ws = new WebSocket(url, [TUNNEL_WEBSOCKET_PROTOCOL], {
      // The upgrade request, and the TLS with the client certificate under it, go through the proxy's CONNECT tunnel.
      ...(proxied ? { agent: new ProxiedHttpsAgent({}, proxy, timeoutMs) } : {}),
      key: options.identity.keyPem,
      cert: options.identity.certPem,
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      ...(options.servername !== undefined ? { servername: options.servername } : {}),
      rejectUnauthorized: true,
      handshakeTimeout: timeoutMs,
      ...TUNNEL_WEBSOCKET_SETTINGS,
    });
    let settled = false;
    const settle = (): void => {
      settled = true;
      ws.off('open', onOpen);
      ws.off('unexpected-response', onRefused);
      ws.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (error: ConnectorError): void => {
      if (settled) return;
      settle();
      // Errors while it is torn down have nobody left to tell.
      ws.on('error', () => undefined);
      ws.terminate();
      reject(error);
    };
    const onOpen = (): void => {
      settle();
      resolve(webSocketTunnelStream(ws));
    };
    const onRefused = (_req: unknown, res: IncomingMessage): void => {
      const status = res.statusCode ?? 0;
      void readRefusal(res, TUNNEL_WEBSOCKET_REFUSAL_BODY_BYTES).then((body) => fail(mapHttpError(status, body, context)));
    };
    const onError = (error: Error): void => {
      const timedOut = /handshake has timed out/i.test(error.message);
      fail(timedOut ? dialTimeoutError(service, timeoutMs) : mapTransportError(error, context));
    };
    const onAbort = (): void => fail(abortedError());
    ws.once('open', onOpen);
    ws.once('unexpected-response', onRefused);
    ws.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
