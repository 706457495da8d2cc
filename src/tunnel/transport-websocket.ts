/**
 * The WebSocket fallback transport, for networks whose proxies pass only
 * WebSocket: what both processes must agree on (the settings, the byte
 * stream HTTP/2 runs over, the keepalive) and the service's side, which
 * accepts the upgrade. The connector upgrades `/.gatehouse/connector/tunnel`
 * on the connector listener (its dialling is src/connector/dial-websocket.ts),
 * with its client certificate, checked by the caller before
 * acceptWebSocketTunnel runs; HTTP/2 then runs over the WebSocket's byte
 * stream exactly as over the TLS transport.
 *
 * HTTP/2 runs over `createWebSocketStream`, a JavaScript stream, never over
 * the upgraded TLS socket itself: Node 24 aborts the process when HTTP/2 is
 * given a TLS socket taken from an HTTP upgrade (test/integration/tunnel/abort.test.ts).
 * `createWebSocketStream` pauses the WebSocket when `push()` returns false
 * and resumes it in `_read`, so backpressure holds.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, WebSocketServer, type WebSocket } from 'ws';
import { refuseHandshake } from '../errors/render-raw.ts';
import { TUNNEL_WEBSOCKET_MAX_PAYLOAD_BYTES, TUNNEL_WEBSOCKET_PING_INTERVAL_MS } from '../limits.ts';
import { TUNNEL_WEBSOCKET_PROTOCOL } from '../protocol/tunnel-wire.ts';

/** The WebSocket settings of both ends of a tunnel. */
export const TUNNEL_WEBSOCKET_SETTINGS = Object.freeze({
  // Compression would cost memory per connection and buys nothing on TLS-carried HTTP/2.
  perMessageDeflate: false,
  maxPayload: TUNNEL_WEBSOCKET_MAX_PAYLOAD_BYTES,
});

export interface WebSocketTunnelOptions {
  /** Largest WebSocket message accepted. Default TUNNEL_WEBSOCKET_MAX_PAYLOAD_BYTES. */
  readonly maxPayload?: number;
  /** Ping interval; a peer that has not answered the previous ping is terminated. */
  readonly pingIntervalMs?: number;
}

/**
 * Pings the peer every `intervalMs` and terminates the WebSocket when the
 * previous ping went unanswered: a half-dead connection otherwise never
 * emits 'close' (the `ws` library waits for a TCP close that never comes),
 * and idle proxies cut silent ones.
 */
export function keepWebSocketAlive(ws: WebSocket, intervalMs: number): void {
  let answered = true;
  const onPong = (): void => {
    answered = true;
  };
  const timer = setInterval(() => {
    if (!answered) {
      ws.terminate();
      return;
    }
    answered = false;
    ws.ping();
  }, intervalMs);
  timer.unref();
  ws.on('pong', onPong);
  ws.once('close', () => {
    clearInterval(timer);
    ws.off('pong', onPong);
  });
}

/** The stream HTTP/2 runs over, on either end: binary messages only. */
export function webSocketTunnelStream(ws: WebSocket, pingIntervalMs: number = TUNNEL_WEBSOCKET_PING_INTERVAL_MS): Duplex {
  keepWebSocketAlive(ws, pingIntervalMs);
  const stream = createWebSocketStream(ws);
  // The stream ends only when the WebSocket closed, and then its writable
  // side can never finish (ws waits for a socket that is gone): once
  // everything was read, close it, or HTTP/2 waits for it forever.
  stream.once('end', () => stream.destroy());
  return stream;
}

function offersTunnelProtocol(req: IncomingMessage): boolean {
  const header = req.headers['sec-websocket-protocol'];
  if (typeof header !== 'string') return false;
  return header.split(',').some((value) => value.trim() === TUNNEL_WEBSOCKET_PROTOCOL);
}

/**
 * Completes the WebSocket handshake of an authenticated tunnel upgrade and
 * resolves with the byte stream to give TunnelSession. Rejects (and closes
 * the socket) when the request is not a tunnel WebSocket handshake.
 */
export function acceptWebSocketTunnel(req: IncomingMessage, socket: Duplex, head: Buffer, options: WebSocketTunnelOptions = {}): Promise<Duplex> {
  return new Promise<Duplex>((resolve, reject) => {
    if (!offersTunnelProtocol(req)) {
      refuseHandshake(socket);
      reject(new Error(`the upgrade does not offer the ${TUNNEL_WEBSOCKET_PROTOCOL} WebSocket protocol`));
      return;
    }
    const server = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      ...TUNNEL_WEBSOCKET_SETTINGS,
      ...(options.maxPayload !== undefined ? { maxPayload: options.maxPayload } : {}),
      handleProtocols: (protocols) => (protocols.has(TUNNEL_WEBSOCKET_PROTOCOL) ? TUNNEL_WEBSOCKET_PROTOCOL : false),
    });
    // ws closes the socket without calling back when the handshake is malformed.
    const onClose = (): void => reject(new Error('the WebSocket handshake failed'));
    socket.once('close', onClose);
    server.handleUpgrade(req, socket, head, (ws) => {
      socket.off('close', onClose);
      resolve(webSocketTunnelStream(ws, options.pingIntervalMs));
    });
  });
}
