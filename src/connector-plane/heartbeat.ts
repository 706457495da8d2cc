/**
 * The connector listener's heartbeat: keeps event streams alive, tells each
 * connected connector once per certificate that its renewal is due, and has
 * every connection checked against its certificate's standing.
 */
import type { CertificateRetirement } from './certificate-retirement.ts';
import type { ConnectorEvents } from './connector-events.ts';
import type { ConnectorRecord, ConnectorRegistry } from './connector-registry.ts';

export interface HeartbeatOptions {
  readonly intervalSeconds: number;
  readonly events: ConnectorEvents;
  readonly registry: ConnectorRegistry;
  readonly retirement: CertificateRetirement;
  readonly isRenewalDue: (record: ConnectorRecord) => boolean;
}

export class Heartbeat {
  readonly #options: HeartbeatOptions;
  /** The certificate each connector was last told to renew: a renewal issues a new one, which is announced again when due. */
  readonly #renewAnnounced = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: HeartbeatOptions) {
    this.#options = options;
  }

  start(): void {
    this.#timer ??= setInterval(() => this.#beat(), this.#options.intervalSeconds * 1000);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #beat(): void {
    const { events, registry, retirement, isRenewalDue } = this.#options;
    events.ping();
    for (const id of events.connectedIds()) {
      const record = registry.get(id);
      if (!record) continue;
      if (isRenewalDue(record) && this.#renewAnnounced.get(id) !== record.certificate.fingerprint256) {
        this.#renewAnnounced.set(id, record.certificate.fingerprint256);
        events.send(id, 'renew', {});
      }
    }
    retirement.retireAll();
  }
}
