/**
 * Turns authenticated connector connections into tunnel sessions in the
 * pool: TLS connections that negotiated the tunnel ALPN, and (the fallback
 * for networks that pass only WebSocket) upgrades on the tunnel path.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../clock.ts';
import { GatehouseError } from '../errors/index.ts';
import { refuseConnectorUpgrade } from '../errors/render-raw.ts';
import type { Logger } from '../logging/logger.ts';
import type { ConnectorCa } from '../pki/connector-ca.ts';
import type { TunnelPool } from '../tunnel/tunnel-pool.ts';
import type { CertificateRetirement } from './certificate-retirement.ts';
import { authenticateConnector, authenticateSocket, type AuthenticatedConnector } from './connector-auth.ts';
import type { ConnectorRegistry } from './connector-registry.ts';
import { acceptWebSocketTunnel } from '../tunnel/transport-websocket.ts';
import { refuseTunnel } from '../tunnel/refuse-tunnel.ts';
import { TunnelSession } from '../tunnel/tunnel-session.ts';

export interface TunnelAcceptorOptions {
  readonly ca: ConnectorCa;
  readonly registry: ConnectorRegistry;
  readonly tunnels: TunnelPool;
  readonly retirement: Pick<CertificateRetirement, 'retireTunnel'>;
  readonly audit: AuditLog;
  readonly logger: Logger;
  readonly clock: Clock;
}

export class TunnelAcceptor {
  readonly #options: TunnelAcceptorOptions;

  constructor(options: TunnelAcceptorOptions) {
    this.#options = options;
  }

  /** A TLS connection that negotiated `gatehouse-tunnel/1`: no HTTP/1 parser ever touches it. */
  acceptTls(socket: TLSSocket): void {
    this.#acceptTls(socket).catch((error: unknown) => {
      this.#options.logger.warn({ err: error }, 'connector listener: TLS tunnel failed');
      socket.destroy();
    });
  }

  async #acceptTls(socket: TLSSocket): Promise<void> {
    let connector: AuthenticatedConnector;
    try {
      connector = await authenticateSocket(socket, this.#options.ca, this.#options.registry, this.#options.clock());
    } catch (error) {
      if (!(error instanceof GatehouseError)) throw error;
      this.#refused(error, socket.remoteAddress, 'tls');
      refuseTunnel(socket, { code: error.code, reason: error.reason });
      return;
    }
    // The registry may have been read again meanwhile: a connection that went away is not a tunnel.
    if (socket.destroyed) return;
    this.#open(connector, socket, socket, 'tls');
  }

  /** An HTTP/1.1 upgrade to the WebSocket tunnel path on the connector listener. */
  async acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    let connector: AuthenticatedConnector;
    try {
      connector = await authenticateConnector(req, this.#options.ca, this.#options.registry, this.#options.clock());
    } catch (error) {
      if (!(error instanceof GatehouseError)) throw error;
      this.#refused(error, req.socket.remoteAddress, 'websocket');
      refuseConnectorUpgrade(socket, error);
      return;
    }
    const stream = await acceptWebSocketTunnel(req, socket, head);
    this.#open(connector, stream, req.socket as TLSSocket, 'websocket');
  }

  #open(connector: AuthenticatedConnector, transport: Duplex, tlsSocket: TLSSocket, kind: 'tls' | 'websocket'): void {
    const { record, fingerprint256 } = connector;
    // The pool knows each tunnel's certificate: revocation, and the end of a
    // superseded certificate's grace period, close it with a notice.
    const { tunnels, audit, logger, retirement } = this.#options;
    const session = new TunnelSession({
      connectorId: record.id,
      group: record.group,
      fingerprint256,
      socket: transport,
      maxStreams: tunnels.maxStreamsPerTunnel,
      log: logger,
    });
    tunnels.add(session);
    const details = { connectorId: record.id, group: record.group, transport: kind, tunnel: session.id };
    audit.emit({ type: 'connector.connected', outcome: 'info', clientIp: tlsSocket.remoteAddress, details });
    // Why it ended (closed, error, heartbeat_timeout, draining, goaway, refused_…): a dead connector noticed only by the heartbeat shows here.
    session.once('close', () => audit.emit({ type: 'connector.disconnected', outcome: 'info', reason: session.unhealthyReason, details }));
    // A WebSocket upgrade takes a moment after its check: a revocation in between must not let it in.
    retirement.retireTunnel(session);
  }

  #refused(error: GatehouseError, clientIp: string | undefined, kind: string): void {
    this.#options.audit.emit({
      type: 'connector.refused',
      outcome: 'failure',
      code: error.code,
      reason: error.reason,
      clientIp,
      details: { route: `tunnel:${kind}` },
    });
  }
}
