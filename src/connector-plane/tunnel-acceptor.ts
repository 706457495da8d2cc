import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { GatehouseError } from '../errors.ts';
import { authenticateConnector, authenticateSocket, type AuthenticatedConnector } from './connector-auth.ts';
import type { ConnectorService } from './connector-service.ts';
import { acceptWebSocketTunnel } from '../tunnel/transport-websocket.ts';
import { refuseTunnel } from '../tunnel/refuse-tunnel.ts';
import { TunnelSession } from '../tunnel/tunnel-session.ts';

/**
 * Turns authenticated connector connections into tunnel sessions in the
 * pool: TLS connections that negotiated the tunnel ALPN, and (the fallback
 * for networks that pass only WebSocket) upgrades on the tunnel path.
 */
export class TunnelAcceptor {
  readonly #service: ConnectorService;

  constructor(service: ConnectorService) {
    this.#service = service;
  }

  /** A TLS connection that negotiated `gatehouse-tunnel/1`: no HTTP/1 parser ever touches it. */
  acceptTls(socket: TLSSocket): void {
    let connector: AuthenticatedConnector;
    try {
      connector = authenticateSocket(socket, this.#service.ca, this.#service.registry, this.#service.clock());
    } catch (error) {
      if (!(error instanceof GatehouseError)) throw error;
      this.#refused(error, socket.remoteAddress, 'tls');
      refuseTunnel(socket, { code: error.code, reason: error.reason });
      return;
    }
    this.#open(connector, socket, socket, 'tls');
  }

  /** An HTTP/1.1 upgrade to the WebSocket tunnel path on the connector listener. */
  async acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    let connector: AuthenticatedConnector;
    try {
      connector = authenticateConnector(req, this.#service.ca, this.#service.registry, this.#service.clock());
    } catch (error) {
      if (!(error instanceof GatehouseError)) throw error;
      this.#refused(error, req.socket.remoteAddress, 'websocket');
      const body = JSON.stringify({ error: { code: error.code, reason: error.reason, message: error.message } });
      socket.end(
        `HTTP/1.1 ${error.status} Refused\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    const stream = await acceptWebSocketTunnel(req, socket, head);
    this.#open(connector, stream, req.socket as TLSSocket, 'websocket');
  }

  #open(connector: AuthenticatedConnector, transport: Duplex, tlsSocket: TLSSocket, kind: 'tls' | 'websocket'): void {
    const { record, fingerprint256 } = connector;
    // The pool knows each tunnel's certificate: revocation, and the end of a
    // superseded certificate's grace period, close it with a notice.
    const session = new TunnelSession({ connectorId: record.id, group: record.group, fingerprint256, socket: transport, log: this.#service.logger });
    this.#service.tunnels.add(session);
    const details = { connectorId: record.id, group: record.group, transport: kind, tunnel: session.id };
    this.#service.audit.emit({ type: 'connector.connected', outcome: 'info', clientIp: tlsSocket.remoteAddress, details });
    session.once('close', () => this.#service.audit.emit({ type: 'connector.disconnected', outcome: 'info', details }));
    // A WebSocket upgrade takes a moment after its check: a revocation in between must not let it in.
    this.#service.retireTunnel(session);
  }

  #refused(error: GatehouseError, clientIp: string | undefined, kind: string): void {
    this.#service.audit.emit({
      type: 'connector.refused',
      outcome: 'failure',
      code: error.code,
      reason: error.reason,
      clientIp,
      details: { route: `tunnel:${kind}` },
    });
  }
}
