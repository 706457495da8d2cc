/**
 * The connector listener's sockets: one TLS port that asks every client for
 * its certificate and tells tunnels from REST calls by ALPN. Tunnel
 * connections (and WebSocket upgrades on the tunnel path) go to the tunnel
 * acceptor; everything else to the REST routes over HTTP/1.1.
 */
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server as HttpServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { TlsMaterial } from '../config/parse.ts';
import {
  CONNECTOR_LISTENER_HEADERS_TIMEOUT_MS,
  CONNECTOR_LISTENER_MAX_HEADER_BYTES,
  CONNECTOR_LISTENER_REQUEST_TIMEOUT_MS,
  SERVER_KEEP_ALIVE_TIMEOUT_MS,
} from '../limits.ts';
import type { Logger } from '../logging/logger.ts';
import { CONNECTOR_API_ALPN } from '../protocol/connector-api.ts';
import { TUNNEL_ALPN, TUNNEL_WEBSOCKET_PATH } from '../protocol/tunnel-wire.ts';

/** Where tunnel connections are handed once TLS (or the WebSocket upgrade) is through. */
export interface TunnelIntake {
  acceptTls(socket: TLSSocket): void;
  acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void>;
}

export interface ConnectorListenerOptions {
  readonly tls: TlsMaterial;
  /** The connector CA, against which TLS checks client certificates. */
  readonly clientCa: string;
  readonly rest: RequestListener;
  readonly tunnels: TunnelIntake;
  readonly logger: Logger;
}

export class ConnectorListener {
  readonly #options: ConnectorListenerOptions;
  readonly #sockets = new Set<Socket>();
  #tls: TlsServer | undefined;
  #http: HttpServer | undefined;

  constructor(options: ConnectorListenerOptions) {
    this.#options = options;
  }

  /** Where it listens, once listen() has run. */
  address(): AddressInfo | undefined {
    const address = this.#tls?.address();
    return address && typeof address === 'object' ? address : undefined;
  }

  async listen(port: number, host: string): Promise<AddressInfo> {
    const { tls: material, clientCa, rest, tunnels, logger } = this.#options;
    const http = createHttpServer({ maxHeaderSize: CONNECTOR_LISTENER_MAX_HEADER_BYTES }, rest);
    http.headersTimeout = CONNECTOR_LISTENER_HEADERS_TIMEOUT_MS;
    http.requestTimeout = CONNECTOR_LISTENER_REQUEST_TIMEOUT_MS;
    http.keepAliveTimeout = SERVER_KEEP_ALIVE_TIMEOUT_MS;
    http.on('clientError', (_error, socket: Socket) => socket.destroy());
    http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if ((req.url ?? '').split('?')[0] !== TUNNEL_WEBSOCKET_PATH) {
        socket.destroy();
        return;
      }
      tunnels.acceptWebSocket(req, socket, head).catch((error: unknown) => {
        logger.warn({ err: error }, 'connector listener: WebSocket tunnel failed');
        socket.destroy();
      });
    });
    const tls = createTlsServer({
      cert: material.cert,
      key: material.key,
      // Asked for on every connection, required per route: registration works without one.
      ca: [clientCa],
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ALPNProtocols: [TUNNEL_ALPN, CONNECTOR_API_ALPN],
    });
    tls.on('secureConnection', (socket: TLSSocket) => {
      this.#track(socket);
      socket.setNoDelay(true);
      // ALPN tells tunnels from REST calls; a tunnel is never parsed as HTTP/1 (Node aborts when HTTP/2 runs over a socket taken from an upgrade).
      if (socket.alpnProtocol === TUNNEL_ALPN) tunnels.acceptTls(socket);
      else http.emit('connection', socket);
    });
    tls.on('connection', (socket: Socket) => this.#track(socket));
    tls.on('tlsClientError', (error) => logger.debug({ err: error }, 'connector listener: TLS handshake failed'));
    await new Promise<void>((resolve, reject) => {
      tls.once('error', reject);
      // exclusive: under `serve --workers` each worker is an instance of its own, with its own port, not one shared through the primary.
      tls.listen({ port, host, exclusive: true }, () => {
        tls.off('error', reject);
        resolve();
      });
    });
    this.#tls = tls;
    this.#http = http;
    return tls.address() as AddressInfo;
  }

  /** Stops taking new connections (a connector dialling again goes to another instance); those open stay until close(). */
  stopAccepting(): void {
    if (this.#tls?.listening) this.#tls.close();
  }

  /** Stops listening and cuts every connection it accepted. */
  async close(): Promise<void> {
    const tls = this.#tls;
    if (tls) {
      await new Promise<void>((resolve) => {
        tls.close(() => resolve());
        for (const socket of this.#sockets) socket.destroy();
      });
    }
    this.#http?.closeAllConnections();
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }
}
