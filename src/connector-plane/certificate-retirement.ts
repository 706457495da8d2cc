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
