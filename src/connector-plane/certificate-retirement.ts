/**
 * Closes connections whose certificate the registry no longer accepts
 * (revoked, superseded past its grace period, unknown): tunnels with a
 * notice that tells the connector why, REST sockets outright. Run for each
 * new tunnel and on every heartbeat, so that no connection outlives its
 * certificate's standing.
 */
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../clock.ts';
import { GatehouseError } from '../errors/index.ts';
import type { TunnelPool } from '../tunnel/tunnel-pool.ts';
import type { TunnelSession } from '../tunnel/tunnel-session.ts';
import { certificateStanding } from './connector-auth.ts';
import type { ConnectorEvents } from './connector-events.ts';
import type { ConnectorRegistry } from './connector-registry.ts';

export interface CertificateRetirementOptions {
  readonly registry: ConnectorRegistry;
  readonly tunnels: TunnelPool;
  readonly events: Pick<ConnectorEvents, 'trackedSockets'>;
  readonly audit: AuditLog;
  readonly clock: Clock;
}

export class CertificateRetirement {
  readonly #options: CertificateRetirementOptions;
  /** Tunnels already closed for their certificate, until they are gone: one close and one audit event each. */
  readonly #retired = new WeakSet<TunnelSession>();

  constructor(options: CertificateRetirementOptions) {
    this.#options = options;
  }

  /** Closes `session` if its certificate is no longer accepted, telling the connector why. Returns whether it did. */
  retireTunnel(session: TunnelSession): boolean {
    if (session.closed || this.#retired.has(session) || session.fingerprint256 === undefined) return false;
    const standing = certificateStanding(this.#options.registry, session.fingerprint256, this.#options.clock());
    if (!(standing instanceof GatehouseError)) return false;
    this.#retired.add(session);
    session.destroy({ code: standing.code, reason: standing.reason });
    this.#options.audit.emit({
      type: 'connector.refused',
      outcome: 'failure',
      code: standing.code,
      reason: standing.reason,
      details: { route: 'tunnel', connectorId: session.connectorId, tunnel: session.id },
    });
    return true;
  }

  /**
   * Closes this instance's tunnels and REST sockets of one connector whose
   * certificate is no longer accepted, after another instance changed its
   * record. Not audited here: the instance that made the change did.
   */
  retireConnector(connectorId: string): void {
    const { registry, tunnels, events, clock } = this.#options;
    const now = clock();
    for (const session of tunnels.sessions()) {
      if (session.connectorId !== connectorId || session.closed || this.#retired.has(session) || session.fingerprint256 === undefined) continue;
      const standing = certificateStanding(registry, session.fingerprint256, now);
      if (!(standing instanceof GatehouseError)) continue;
      this.#retired.add(session);
      session.destroy({ code: standing.code, reason: standing.reason });
    }
    for (const tracked of [...events.trackedSockets()]) {
      if (tracked.connectorId !== connectorId) continue;
      if (certificateStanding(registry, tracked.fingerprint256, now) instanceof GatehouseError) tracked.socket.destroy();
    }
  }

  /** Every tunnel and tracked REST socket, whether or not its connector holds an event stream. */
  retireAll(): void {
    const { registry, tunnels, events, clock } = this.#options;
    const now = clock();
    for (const session of tunnels.sessions()) this.retireTunnel(session);
    for (const { socket, fingerprint256 } of [...events.trackedSockets()]) {
      if (certificateStanding(registry, fingerprint256, now) instanceof GatehouseError) socket.destroy();
    }
  }
}

/**
 * What a revocation does on an instance: every tunnel of the connector is cut
 * with a notice that says why, and its event streams and sockets are closed.
 */
export function closeRevokedConnector(connectorId: string, tunnels: Pick<TunnelPool, 'closeConnector'>, events: Pick<ConnectorEvents, 'disconnect'>): void {
  // Tunnels first, with the notice: the connector learns why from any link.
  void tunnels.closeConnector(connectorId, { code: 'ERR_CONNECTOR_REVOKED', reason: 'revoked' });
  events.disconnect(connectorId, 'revoked');
}
