/**
 * The service end of the tunnel on 127.0.0.1: a TLS listener with ALPN
 * `gatehouse-tunnel/1` (and `http/1.1` for the WebSocket fallback) that asks
 * for client certificates from a test connector CA, wraps accepted tunnels in
 * TunnelSession and adds them to a TunnelPool. Without the rest of the
 * service: no registry, no revocation, no audit.
 */
import { EventEmitter, once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { TUNNEL_ALPN, TUNNEL_WEBSOCKET_PATH } from '../../src/protocol/tunnel-wire.ts';
import { refuseTunnel } from '../../src/tunnel/refuse-tunnel.ts';
import { acceptWebSocketTunnel } from '../../src/tunnel/transport-websocket.ts';
import { TunnelPool } from '../../src/tunnel/tunnel-pool.ts';
import { TunnelSession, type TunnelSessionOptions } from '../../src/tunnel/tunnel-session.ts';
import type { TestPki } from './tunnel-pki.ts';

export interface ServiceSideOptions {
  readonly pki: TestPki;
  readonly sessionOptions?: Partial<Omit<TunnelSessionOptions, 'connectorId' | 'group' | 'socket'>>;
  /** Takes a verified tunnel socket instead of a TunnelSession (for hand-made HTTP/2 frames). */
  readonly takeOver?: (socket: TLSSocket, connector: { connectorId: string; group: string }) => void;
  readonly log?: Logger;
}

export interface ServiceSide {
  readonly port: number;
  readonly url: string;
  readonly pool: TunnelPool;
  /** Every session ever accepted, in order. */
  readonly sessions: TunnelSession[];
  /** Tunnel connections refused for their certificate. */
  readonly refused: number;
  /** Resolves once `count` ready sessions of the connector are in the pool. */
  waitForTunnels(connectorId: string, count: number): Promise<TunnelSession[]>;
  close(): Promise<void>;
}

function subjectField(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function identify(socket: TLSSocket): { connectorId: string; group: string } | undefined {
  if (!socket.authorized) return undefined;
  const subject = socket.getPeerCertificate().subject as Record<string, string | string[] | undefined> | undefined;
  const connectorId = subjectField(subject?.['CN']);
  const group = subjectField(subject?.['OU']);
  return connectorId && group ? { connectorId, group } : undefined;
}

const REFUSED_BODY = JSON.stringify({
  error: { code: 'ERR_CERT_REFUSED', reason: 'no_certificate', message: 'This call needs a registered connector certificate.' },
});

export async function startServiceSide(options: ServiceSideOptions): Promise<ServiceSide> {
  const pool = new TunnelPool();
  const sessions: TunnelSession[] = [];
  const sockets = new Set<Socket>();
  const events = new EventEmitter();
  let refused = 0;

  const addSession = (socket: Duplex, connector: { connectorId: string; group: string }): void => {
    const session = new TunnelSession({ ...connector, socket, ...(options.log ? { log: options.log } : {}), ...options.sessionOptions });
    sessions.push(session);
    pool.add(session);
    session.once('ready', () => events.emit('ready', session));
  };

  const http: HttpServer = createHttpServer();
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const connector = identify(req.socket as TLSSocket);
    if (req.url !== TUNNEL_WEBSOCKET_PATH || !connector) {
      refused++;
      socket.end(
        `HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(REFUSED_BODY)}\r\nConnection: close\r\n\r\n${REFUSED_BODY}`,
      );
      return;
    }
    acceptWebSocketTunnel(req, socket, head).then(
      (stream) => addSession(stream, connector),
      () => undefined,
    );
  });

  const tls = createTlsServer({
    cert: options.pki.server.cert,
    key: options.pki.server.key,
    ca: [options.pki.caPem],
    requestCert: true,
    rejectUnauthorized: false,
    ALPNProtocols: [TUNNEL_ALPN, 'http/1.1'],
  });
  tls.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  tls.on('tlsClientError', () => undefined);
  tls.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol !== TUNNEL_ALPN) {
      http.emit('connection', socket);
      return;
    }
    const connector = identify(socket);
    if (!connector) {
      refused++;
      refuseTunnel(socket, { code: 'ERR_CERT_REFUSED', reason: 'no_certificate' });
      return;
    }
    if (options.takeOver) options.takeOver(socket, connector);
    else addSession(socket, connector);
  });
  tls.listen(0, '127.0.0.1');
  await once(tls, 'listening');
  const { port } = tls.address() as AddressInfo;

  const readyOf = (connectorId: string): TunnelSession[] => pool.sessions().filter((session) => session.connectorId === connectorId && session.healthy);

  return {
    port,
    url: `https://127.0.0.1:${port}`,
    pool,
    sessions,
    get refused() {
      return refused;
    },
    waitForTunnels(connectorId, count) {
      return new Promise((resolve) => {
        const check = (): void => {
          const ready = readyOf(connectorId);
          if (ready.length < count) return;
          events.off('ready', check);
          resolve(ready);
        };
        events.on('ready', check);
        check();
      });
    },
    async close() {
      await Promise.all(sessions.map((session) => (session.destroy(), session.whenClosed())));
      const closed = new Promise<void>((resolve) => tls.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      http.closeAllConnections();
      await closed;
    },
  };
}
