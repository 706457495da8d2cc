/**
 * The configuration connectors pull: the document each one gets for its
 * group, and its version number, kept in the store so that every instance
 * and every restart agrees on it. The version rises whenever what the
 * documents say changes, and every connected connector is told to pull:
 * those of this instance at once, those of the others through the broadcast.
 */
import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AppConfig, ConnectorsConfig } from '../config/parse.ts';
import type { ConnectorConfigDocument } from '../protocol/config-document.ts';
import type { Broadcast } from '../store/broadcast.ts';
import type { Store } from '../store/store.ts';
import { SERVICE_SESSIONS_READ_WHILE_WRITING } from '../tunnel/h2-transport.ts';
import type { ConnectorEvents } from './connector-events.ts';
import type { ConnectorRecord } from './connector-registry.ts';

const VERSION_KEY = 'config-version';

/** The broadcast channel on which a new version is announced; the message is the version number. */
export const CONFIG_VERSION_CHANNEL = 'config.version';

interface StoredVersion {
  readonly version: number;
  /** Of the settings the documents carry: a start with other apps or settings raises the version. */
  readonly fingerprint: string;
}

export interface ConfigVersionOptions {
  readonly store: Store;
  readonly apps: readonly AppConfig[];
  readonly settings: Pick<ConnectorsConfig, 'heartbeatInterval' | 'renewalAge'>;
  readonly audit: AuditLog;
  /** Where a new version is announced to the connected connectors. */
  readonly events: Pick<ConnectorEvents, 'broadcast'>;
  /** The live gateway instances, listed in every document so connectors tunnel to each. */
  readonly instances?: () => Promise<ReadonlyArray<{ readonly id: string; readonly url: string }>>;
  /** Where a new version is announced to the instances sharing the store. Default: nowhere. */
  readonly broadcast?: Pick<Broadcast, 'publish'> | undefined;
}

export class ConfigVersion {
  readonly #options: ConfigVersionOptions;
  #apps: readonly AppConfig[];
  #fingerprint: string;
  #current = 0;

  constructor(options: ConfigVersionOptions) {
    this.#options = options;
    this.#apps = options.apps;
    this.#fingerprint = settingsFingerprint(options);
  }

  get current(): number {
    return this.#current;
  }

  /** Reads the stored version, raising it if the apps or settings changed since it was stored. */
  async load(): Promise<void> {
    const raw = await this.#options.store.get(VERSION_KEY);
    const stored = raw === undefined ? undefined : (JSON.parse(raw) as StoredVersion);
    if (!stored || stored.fingerprint !== this.#fingerprint) await this.bump('configuration_loaded');
    else this.#current = stored.version;
  }

  /** Takes the apps of a reloaded configuration; when what the documents say changes, raises the version. Resolves whether it did. */
  async updateApps(apps: readonly AppConfig[]): Promise<boolean> {
    const fingerprint = settingsFingerprint({ apps, settings: this.#options.settings });
    this.#apps = apps;
    if (fingerprint === this.#fingerprint) return false;
    this.#fingerprint = fingerprint;
    await this.bump('configuration_reloaded');
    return true;
  }

  /** Raises the version and tells every connected connector to pull again. */
  async bump(reason: string): Promise<number> {
    const { store, audit, events } = this.#options;
    for (;;) {
      const raw = await store.get(VERSION_KEY);
      const stored: StoredVersion = raw === undefined ? { version: 0, fingerprint: '' } : (JSON.parse(raw) as StoredVersion);
      const next: StoredVersion = { version: stored.version + 1, fingerprint: this.#fingerprint };
      if (await store.compareAndSet(VERSION_KEY, raw, JSON.stringify(next))) {
        this.#current = next.version;
        break;
      }
    }
    audit.emit({ type: 'config.changed', outcome: 'info', reason, details: { version: this.#current } });
    const version = this.#current;
    events.broadcast('config', { version });
    await this.#options.broadcast?.publish(CONFIG_VERSION_CHANNEL, String(version));
    return version;
  }

  /**
   * Reads the stored version again, for a version another instance raised:
   * when it rose, this instance's connected connectors are told to pull.
   * Resolves whether it rose.
   */
  async reload(): Promise<boolean> {
    const raw = await this.#options.store.get(VERSION_KEY);
    const stored = raw === undefined ? undefined : (JSON.parse(raw) as StoredVersion);
    if (!stored || stored.version <= this.#current) return false;
    this.#current = stored.version;
    this.#options.events.broadcast('config', { version: stored.version });
    return true;
  }

  /** The document a connector pulls: the apps of its group, at the current version. */
  async documentFor(record: ConnectorRecord, renewalDue: boolean): Promise<ConnectorConfigDocument> {
    const { settings } = this.#options;
    const apps = this.#apps;
    const instances = await this.#options.instances?.();
    return {
      version: this.#current,
      connectorId: record.id,
      group: record.group,
      apps: apps
        .filter((app) => app.connectorGroup === record.group)
        .map((app) => ({
          id: app.id,
          internalUrl: app.internalUrl,
          ...(app.internalTls
            ? {
                tls: {
                  ...(app.internalTls.ca ? { ca: app.internalTls.ca } : {}),
                  ...(app.internalTls.serverName ? { servername: app.internalTls.serverName } : {}),
                },
              }
            : {}),
        })),
      heartbeatIntervalSeconds: settings.heartbeatInterval,
      ...(instances ? { instances: instances.map(({ id, url }) => ({ id, url })) } : {}),
      tunnelReadsWhileWriting: SERVICE_SESSIONS_READ_WHILE_WRITING,
      renewal: {
        ageSeconds: settings.renewalAge,
        issuedAt: new Date(record.certificate.issuedAt * 1000).toISOString(),
        due: renewalDue,
      },
    };
  }
}

function settingsFingerprint({ apps, settings }: Pick<ConfigVersionOptions, 'apps' | 'settings'>): string {
  const relevant = {
    apps: apps.map((app) => [app.id, app.internalUrl, app.connectorGroup, app.internalTls ?? null]),
    heartbeat: settings.heartbeatInterval,
    renewalAge: settings.renewalAge,
  };
  return createHash('sha256').update(JSON.stringify(relevant)).digest('base64url');
}
