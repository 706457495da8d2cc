/**
 * A connector's life in the registry: registration (its first certificate),
 * renewal, revocation and moves between groups. Each change is saved before
 * it takes effect, cuts off what it must (a revoked connector's tunnels and
 * sockets, a moved one's tunnels) and raises the configuration version.
 */
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditUser } from '../audit/events.ts';
import { nowSeconds, type Clock } from '../clock.ts';
import type { AppConfig, ConnectorsConfig } from '../config/parse.ts';
import { GatehouseError } from '../errors/index.ts';
import type { ConnectorCa } from '../pki/connector-ca.ts';
import type { VerifiedCsr } from '../pki/csr.ts';
import type { IssuedCertificateAnswer } from '../protocol/issued-certificate.ts';
import { KeyedQueue } from '../store/keyed-queue.ts';
import type { TunnelPool } from '../tunnel/tunnel-pool.ts';
import { closeRevokedConnector } from './certificate-retirement.ts';
import type { ConfigVersion } from './config-version.ts';
import type { ConnectorEvents } from './connector-events.ts';
import { ConnectorRegistry, type ConnectorCertificate, type ConnectorRecord } from './connector-registry.ts';

export interface ConnectorLifecycleOptions {
  readonly registry: ConnectorRegistry;
  readonly ca: ConnectorCa;
  readonly settings: Pick<ConnectorsConfig, 'certificateLifetime' | 'renewalAge' | 'renewalGrace'>;
  /** The groups a connector may join. */
  readonly groups: ReadonlySet<string>;
  readonly configVersion: Pick<ConfigVersion, 'bump'>;
  readonly tunnels: TunnelPool;
  readonly events: Pick<ConnectorEvents, 'disconnect'>;
  readonly audit: AuditLog;
  readonly clock: Clock;
}

export interface RenewalAnswer {
  readonly answer: IssuedCertificateAnswer;
  /** The current certificate again, for a connector whose renewal answer was lost. */
  readonly repeated: boolean;
}

/** Connector groups that exist: those the apps name, and "default". */
export function connectorGroups(apps: readonly AppConfig[]): Set<string> {
  return new Set(['default', ...apps.map((app) => app.connectorGroup)]);
}

export class ConnectorLifecycle {
  readonly #options: ConnectorLifecycleOptions;
  /** Renewals of one connector run one at a time, so two at once cannot both replace its certificate. */
  readonly #renewals = new KeyedQueue();

  constructor(options: ConnectorLifecycleOptions) {
    this.#options = options;
  }

  /** Signs a verified request for a new connector and records it. */
  async register(csr: VerifiedCsr, group: string, name: string | undefined, admin: AuditUser): Promise<IssuedCertificateAnswer> {
    if (!this.#options.groups.has(group)) throw new GatehouseError('ERR_UNKNOWN_GROUP', 'unknown_group');
    const id = ConnectorRegistry.newId();
    const now = nowSeconds(this.#options.clock);
    const issued = this.#issue(csr, id, group);
    const record: ConnectorRecord = {
      id,
      group,
      ...(name ? { name } : {}),
      certificate: { ...issued.meta, issuedAt: now },
      registeredAt: now,
      registeredBy: admin.sub,
      revoked: false,
    };
    await this.#options.registry.save(record);
    return this.#answer(record, issued.certPem);
  }

  /**
   * Renews the certificate a connector presented (`fingerprint256`). Only
   * the current certificate renews: it then stays accepted as the previous
   * one for the grace period. Renewals of one connector run one at a time,
   * so that two at once cannot both replace the same certificate and drop
   * the one issued first.
   *
   * A renewal presented with a certificate that a renewal already superseded
   * never changes the registry: whoever holds the current certificate must
   * not be locked out by a copy of the old one. The one answer is for a
   * connector whose renewal answer was lost and that asks again for the same
   * key (the request's signature proves it holds that key): it gets the
   * current certificate again, unchanged (`repeated`). Any other key:
   * ERR_CERT_SUPERSEDED.
   */
  renew(connectorId: string, fingerprint256: string, csr: VerifiedCsr): Promise<RenewalAnswer> {
    return this.#renewals.run(connectorId, () => this.#renewNow(connectorId, fingerprint256, csr));
  }

  /** Revokes a connector as it is in the store. Revoking it again changes nothing, but cuts whatever it still has open here. */
  async revoke(id: string, by: AuditUser | undefined): Promise<ConnectorRecord> {
    const { registry, tunnels, events, audit, configVersion } = this.#options;
    const now = nowSeconds(this.#options.clock);
    const { record: updated, changed } = await registry.update(id, (record) =>
      record.revoked ? undefined : { ...record, revoked: true, revokedAt: now, ...(by ? { revokedBy: by.sub } : {}) },
    );
    closeRevokedConnector(id, tunnels, events);
    if (!changed) {
      // Revoking again repeats the announcement: the first one may have failed after the write.
      await registry.announce(id);
      return updated;
    }
    audit.emit({ type: 'connector.revoked', outcome: 'success', user: by, details: { connectorId: id, group: updated.group } });
    await configVersion.bump('connector_revoked');
    return updated;
  }

  async moveGroup(id: string, group: string, by: AuditUser | undefined): Promise<ConnectorRecord> {
    const { registry, tunnels, audit, configVersion } = this.#options;
    if (!this.#options.groups.has(group)) throw new GatehouseError('ERR_UNKNOWN_GROUP', 'unknown_group');
    let from = group;
    const { record: updated } = await registry.update(id, (record) => {
      from = record.group;
      return { ...record, group };
    });
    // Its tunnels serve the old group: it reconnects into the new one.
    void tunnels.closeConnector(id);
    audit.emit({ type: 'connector.moved', outcome: 'success', user: by, details: { connectorId: id, from, to: group } });
    await configVersion.bump('connector_moved');
    return updated;
  }

  async #renewNow(connectorId: string, fingerprint256: string, csr: VerifiedCsr): Promise<RenewalAnswer> {
    let pem = '';
    let repeated = false;
    // Decided on the record as stored: another instance may have renewed or revoked it a moment ago.
    const { record } = await this.#options.registry.update(connectorId, (current) => {
      if (current.revoked) throw new GatehouseError('ERR_CONNECTOR_REVOKED', 'revoked');
      if (current.certificate.fingerprint256 !== fingerprint256) {
        const certificate = current.certificate;
        if (certificate.pem === undefined || certificate.publicKeyFingerprint256 !== csr.publicKeyFingerprint256) {
          throw new GatehouseError('ERR_CERT_SUPERSEDED', 'already_renewed');
        }
        pem = certificate.pem;
        repeated = true;
        return undefined;
      }
      const now = nowSeconds(this.#options.clock);
      const issued = this.#issue(csr, current.id, current.group);
      pem = issued.certPem;
      repeated = false;
      return {
        ...current,
        certificate: { ...issued.meta, issuedAt: now },
        previous: {
          fingerprint256: current.certificate.fingerprint256,
          serialNumber: current.certificate.serialNumber,
          validUntil: now + this.#options.settings.renewalGrace,
        },
        renewedAt: now,
      };
    });
    return { answer: this.#answer(record, pem), repeated };
  }

  #issue(csr: VerifiedCsr, connectorId: string, group: string): { certPem: string; meta: Omit<ConnectorCertificate, 'issuedAt'> } {
    // Validity follows real time: TLS checks it against the real clock, whatever the service's clock says.
    const issued = this.#options.ca.issueClientCertificate(
      csr,
      { connectorId, group },
      {
        validDays: this.#options.settings.certificateLifetime / 86_400,
        now: Date.now(),
      },
    );
    return {
      certPem: issued.certPem,
      meta: {
        serialNumber: issued.serialNumber,
        fingerprint256: issued.fingerprint256,
        notBefore: issued.notBefore.toISOString(),
        notAfter: issued.notAfter.toISOString(),
        publicKeyFingerprint256: csr.publicKeyFingerprint256,
        pem: issued.certPem,
      },
    };
  }

  #answer(record: ConnectorRecord, certPem: string): IssuedCertificateAnswer {
    return {
      connectorId: record.id,
      group: record.group,
      certificate: certPem,
      caChain: [this.#options.ca.certPem],
      notAfter: record.certificate.notAfter,
      renewalAgeSeconds: this.#options.settings.renewalAge,
    };
  }
}
