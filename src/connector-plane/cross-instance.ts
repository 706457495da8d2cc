/**
 * Keeps this instance's view of the connector plane exact when several
 * instances share one store: a connector registered, renewed, revoked or
 * moved through another instance, and a configuration version raised there,
 * take effect here as soon as the broadcast says so, and everything is read
 * again after the broadcast may have missed messages.
 */
import type { Logger } from '../logging/logger.ts';
import type { Broadcast } from '../store/broadcast.ts';
import type { TunnelPool } from '../tunnel/tunnel-pool.ts';
import { closeRevokedConnector, type CertificateRetirement } from './certificate-retirement.ts';
import { CONFIG_VERSION_CHANNEL, type ConfigVersion } from './config-version.ts';
import type { ConnectorEvents } from './connector-events.ts';
import { CONNECTOR_CHANGED_CHANNEL, type ConnectorRegistry, type RecordChange } from './connector-registry.ts';

export interface CrossInstanceOptions {
  readonly broadcast: Broadcast;
  readonly registry: Pick<ConnectorRegistry, 'refresh' | 'load' | 'get'>;
  readonly configVersion: Pick<ConfigVersion, 'reload'>;
  readonly retirement: Pick<CertificateRetirement, 'retireConnector'>;
  readonly tunnels: Pick<TunnelPool, 'closeConnector' | 'sessions'>;
  readonly events: Pick<ConnectorEvents, 'disconnect'>;
  readonly logger: Logger;
}

export class CrossInstance {
  readonly #options: CrossInstanceOptions;
  readonly #unsubscribe: Array<() => void> = [];
  #stopped = false;

  private constructor(options: CrossInstanceOptions) {
    this.#options = options;
  }

  /**
   * Listens from now on, then reads the registry and the version once more:
   * a change made between the first load and the subscription is not lost.
   */
  static start(options: CrossInstanceOptions): CrossInstance {
    const sync = new CrossInstance(options);
    const { broadcast } = options;
    sync.#unsubscribe.push(
      broadcast.subscribe(CONNECTOR_CHANGED_CHANNEL, (id) => sync.#run('connector changed', () => sync.#connectorChanged(id))),
      broadcast.subscribe(CONFIG_VERSION_CHANNEL, () => sync.#run('config version', () => options.configVersion.reload())),
      broadcast.onResync(() => sync.#run('resync', () => sync.resync())),
    );
    sync.#run('resync', () => sync.resync());
    return sync;
  }

  /** Reads every record and the version again, and applies what changed. */
  async resync(): Promise<void> {
    const { registry, configVersion } = this.#options;
    // Each changed record is applied as a change from what this instance had; the record before is not kept, the standing decides.
    for (const id of await registry.load()) this.#apply(id, { before: undefined, after: registry.get(id) });
    await configVersion.reload();
  }

  stop(): void {
    this.#stopped = true;
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
  }

  async #connectorChanged(id: string): Promise<void> {
    this.#apply(id, await this.#options.registry.refresh(id));
  }

  /** Cuts what this instance still holds open for a connector that the change no longer allows. */
  #apply(id: string, { before, after }: RecordChange): void {
    if (this.#stopped || !after) return;
    const { tunnels, events, retirement } = this.#options;
    if (after.revoked) {
      closeRevokedConnector(id, tunnels, events);
      return;
    }
    // Moved: its tunnels serve the old group, it reconnects into the new one.
    const moved = before ? before.group !== after.group : tunnels.sessions().some((session) => session.connectorId === id && session.group !== after.group);
    if (moved) void tunnels.closeConnector(id);
    // Renewed: connections with a certificate no longer accepted (e.g. a superseded one past its grace) go.
    retirement.retireConnector(id);
  }

  #run(what: string, task: () => Promise<unknown>): void {
    if (this.#stopped) return;
    task().catch((error: unknown) => {
      if (this.#stopped) return;
      this.#options.logger.warn({ err: error }, `connector plane: ${what}: could not read the store`);
    });
  }
}
