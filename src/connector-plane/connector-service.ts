/**
 * The service side of connectors, composed: opens the store, the connector
 * CA, the registry and the configuration version, wires the lifecycle, the
 * REST routes, the tunnel acceptor and the heartbeat to them, and owns the
 * listener. This is the one object the gateway and the tests hold; each part
 * gets what it needs passed in and never reaches back here.
 */
import type { AddressInfo } from 'node:net';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditUser } from '../audit/events.ts';
import type { RecentEvents } from '../audit/recent-events.ts';
import type { Clock } from '../clock.ts';
import { TUNNEL_DRAIN_ON_CLOSE_MS } from '../limits.ts';
import type { AppConfig, ConnectorsConfig } from '../config/parse.ts';
import type { Logger } from '../logging/logger.ts';
import type { ConnectorCa } from '../pki/connector-ca.ts';
import { instancesEvent } from '../protocol/config-document.ts';
import { MemoryBroadcast, type Broadcast } from '../store/broadcast.ts';
import { SqliteStore } from '../store/sqlite-store.ts';
import type { Store } from '../store/store.ts';
import { TunnelPool } from '../tunnel/tunnel-pool.ts';
import { AdminTokenVerifier } from './admin-token.ts';
import { adminIntrospection } from './admin-introspection-setup.ts';
import { listenerTls, openConnectorCa } from './ca-bootstrap.ts';
import { CertificateRetirement } from './certificate-retirement.ts';
import { ConfigVersion } from './config-version.ts';
import { ConnectorEvents } from './connector-events.ts';
import { connectorGroups, ConnectorLifecycle } from './connector-lifecycle.ts';
import { ConnectorRegistry, type ConnectorRecord } from './connector-registry.ts';
import { CrossInstance } from './cross-instance.ts';
import { createConnectorApp, type ConnectorRoutesOptions } from './connector-routes.ts';
import { Heartbeat } from './heartbeat.ts';
import { InstanceRegistry, type GatewayInstance } from './instance-registry.ts';
import { ConnectorListener } from './listener.ts';
import { isRenewalDue } from './renewal-schedule.ts';
import { TunnelAcceptor } from './tunnel-acceptor.ts';
import { TunnelDemand } from './tunnel-demand.ts';
import type { IdpKeys } from '../signin/idp-keys.ts';

export interface ConnectorServiceOptions extends Pick<ConnectorRoutesOptions, 'adminView'> {
  readonly config: ConnectorsConfig;
  readonly apps: readonly AppConfig[];
  readonly clock: Clock;
  readonly audit: AuditLog;
  readonly logger: Logger;
  readonly clockToleranceSeconds: number;
  /** The identity provider's signing keys, for admin tokens. */
  readonly idpKeys: Pick<IdpKeys, 'verifyJwt'>;
  /** The HTTP client for the identity provider, for introspecting opaque admin tokens. */
  readonly idpFetch: (url: string, init: RequestInit) => Promise<Response>;
  /** The gateway's client at the identity provider, for introspecting opaque admin tokens (`connectors.admin.introspection`). */
  readonly idpClient?: {
    readonly clientId: string;
    readonly clientSecret: string | undefined;
    /** `introspection_endpoint` from discovery, if the provider has one. */
    readonly introspectionEndpoint: () => Promise<string | undefined>;
    readonly timeoutMs: number;
  };
  /** Default: a SqliteStore in config.stateDir. */
  readonly store?: Store;
  /** Recent audit events, for the admin query API on this listener. */
  readonly recentEvents?: RecentEvents;
  /** Carries registry and version changes to the other instances sharing the store. Default: this process only. */
  readonly broadcast?: Broadcast;
  /** How often this instance renews its record among the instances, and when a silent one counts as gone. Default INSTANCE_HEARTBEAT_MS / INSTANCE_TTL_MS. */
  readonly instanceHeartbeatMs?: number;
  readonly instanceTtlMs?: number;
  /** Requests per second per address on registration and the admin API (`limits.rate`). Default: not limited. */
  readonly rateLimits?: ConnectorRoutesOptions['rateLimits'];
}

/** What init() opens: everything that needs the store. */
interface Opened {
  readonly store: Store;
  readonly ca: ConnectorCa;
  readonly registry: ConnectorRegistry;
  readonly configVersion: ConfigVersion;
  readonly retirement: CertificateRetirement;
  readonly lifecycle: ConnectorLifecycle;
  readonly broadcast: Broadcast;
}

export class ConnectorService {
  readonly config: ConnectorsConfig;
  readonly events = new ConnectorEvents();
  /** Live tunnels by connector group: what the dispatcher forwards through. */
  readonly tunnels: TunnelPool;
  readonly adminTokens: AdminTokenVerifier;
  readonly #options: ConnectorServiceOptions;
  #init: Promise<void> | undefined;
  /** Set as soon as it is open, so that close() closes it even if the rest of init() failed. */
  #store: Store | undefined;
  #opened: Opened | undefined;
  #listener: ConnectorListener | undefined;
  #heartbeat: Heartbeat | undefined;
  #demand: TunnelDemand | undefined;
  #instances: InstanceRegistry | undefined;
  #crossInstance: CrossInstance | undefined;
  #apps: readonly AppConfig[];
  /** The groups connectors may join; changed in place when a reload changes the apps. */
  readonly #groups: Set<string>;

  constructor(options: ConnectorServiceOptions) {
    this.#options = options;
    this.#apps = options.apps;
    this.#groups = connectorGroups(options.apps);
    this.config = options.config;
    const { maxStreams, queue } = options.config.tunnels;
    this.tunnels = new TunnelPool({ maxStreamsPerTunnel: maxStreams, queue: { maxLength: queue.maxLength, maxWaitMs: queue.maxWait * 1000 } });
    this.adminTokens = new AdminTokenVerifier({
      settings: options.config.admin,
      keys: options.idpKeys,
      clock: options.clock,
      clockToleranceSeconds: options.clockToleranceSeconds,
      introspection: adminIntrospection(options.config.admin, options.idpClient, options.idpFetch, options.clock),
    });
  }

  /** Opens the store, loads or creates the connector CA, loads the registry. Idempotent. */
  init(): Promise<void> {
    this.#init ??= this.#open();
    return this.#init;
  }

  get ca(): ConnectorCa {
    return this.#require().ca;
  }

  get registry(): ConnectorRegistry {
    return this.#require().registry;
  }

  /** Whether init() has completed (the CA, the registry and the version are loaded). */
  get initialized(): boolean {
    return this.#opened !== undefined;
  }

  /** The configuration version connectors pull, once init() has loaded it. */
  get version(): number {
    return this.#opened?.configVersion.current ?? 0;
  }

  /** The service's durable store, once init() has opened it. */
  async store(): Promise<Store> {
    await this.init();
    return this.#require().store;
  }

  /** Where the connector listener listens, once listen() has run. */
  address(): AddressInfo | undefined {
    return this.#listener?.address();
  }

  /** The gateway instances sharing the store, each with its tunnels per connector as its record says (this one's as of its last heartbeat). */
  instances(): readonly GatewayInstance[] {
    return this.#instances?.live() ?? [];
  }

  /** Raises the configuration version and tells every connected connector to pull again. */
  bumpVersion(reason: string): Promise<number> {
    return this.#require().configVersion.bump(reason);
  }

  /**
   * Takes the apps of a reloaded configuration: the documents connectors pull and the groups they may join follow
   * them, and when a document changes the version rises and connected connectors are told to pull. Resolves whether it rose.
   */
  async updateApps(apps: readonly AppConfig[]): Promise<boolean> {
    this.#apps = apps;
    const groups = connectorGroups(apps);
    for (const group of this.#groups) if (!groups.has(group)) this.#groups.delete(group);
    for (const group of groups) this.#groups.add(group);
    // Before init() completes there is no version yet: it is loaded from these apps.
    if (this.#init) await this.#init.catch(() => undefined);
    return this.#opened ? this.#opened.configVersion.updateApps(apps) : false;
  }

  revoke(id: string, by: AuditUser | undefined): Promise<ConnectorRecord> {
    return this.#require().lifecycle.revoke(id, by);
  }

  moveGroup(id: string, group: string, by: AuditUser | undefined): Promise<ConnectorRecord> {
    return this.#require().lifecycle.moveGroup(id, group, by);
  }

  /** Starts the connector listener and its heartbeat. */
  async listen(port = this.config.listen.port, host = this.config.listen.host): Promise<AddressInfo> {
    await this.init();
    const { ca, registry, configVersion, retirement, lifecycle } = this.#require();
    const { clock, audit, logger, recentEvents, rateLimits, adminView } = this.#options;
    const renewalDue = (record: ConnectorRecord): boolean => isRenewalDue(record, this.config.renewalAge, clock);
    const rest = createConnectorApp({
      settings: this.config,
      ca,
      registry,
      lifecycle,
      configVersion,
      events: this.events,
      adminTokens: this.adminTokens,
      audit,
      logger,
      clock,
      recentEvents,
      instances: () => this.#instances?.live(),
      rateLimits,
      adminView,
    });
    const acceptor = new TunnelAcceptor({ ca, registry, tunnels: this.tunnels, retirement, audit, logger, clock });
    const listener = new ConnectorListener({ tls: listenerTls(this.config, ca), clientCa: ca.certPem, rest, tunnels: acceptor, logger });
    const address = await listener.listen(port, host);
    this.#listener = listener;
    this.#heartbeat ??= new Heartbeat({ intervalSeconds: this.config.heartbeatInterval, events: this.events, registry, retirement, isRenewalDue: renewalDue });
    this.#heartbeat.start();
    // Connectors dial this instance by the URL it advertises; without one (development), by the address it listens on.
    const url = this.config.advertiseUrl ?? this.config.publicUrl ?? `https://127.0.0.1:${address.port}`;
    this.#instances ??= new InstanceRegistry({
      store: this.#require().store,
      url,
      clock,
      logger,
      tunnels: this.tunnels,
      onChange: (live) => {
        logger.info({ instances: live.map(({ id, url }) => ({ id, url })) }, 'gateway instances changed: connectors are told to tunnel to each');
        this.events.broadcast('instances', instancesEvent(live));
      },
      ...(this.#options.instanceHeartbeatMs !== undefined ? { heartbeatMs: this.#options.instanceHeartbeatMs } : {}),
      ...(this.#options.instanceTtlMs !== undefined ? { ttlMs: this.#options.instanceTtlMs } : {}),
    });
    await this.#instances.start();
    const instances = this.#instances;
    const instanceId = (): string | undefined => (instances.live().length > 1 ? instances.id : undefined);
    this.#demand ??= new TunnelDemand({
      settings: this.config.tunnels,
      tunnels: this.tunnels,
      events: this.events,
      broadcast: this.#opened?.broadcast,
      instanceId,
    });
    this.#demand.start();
    return address;
  }

  async close(): Promise<void> {
    this.#crossInstance?.stop();
    // First: connectors stop dialling this instance as soon as the others notice.
    await this.#instances?.close();
    this.#heartbeat?.stop();
    this.#demand?.stop();
    // Before the GOAWAY: the connectors dial again at once, and must not land on this instance's listener.
    this.#listener?.stopAccepting();
    await this.tunnels.drain(TUNNEL_DRAIN_ON_CLOSE_MS);
    this.events.closeAll();
    await this.#listener?.close();
    if (this.#init) {
      await this.#init.catch(() => undefined);
      if (!this.#options.store) await this.#store?.close();
    }
  }

  async #open(): Promise<void> {
    const { clock, audit } = this.#options;
    const store = this.#options.store ?? this.#openStore();
    this.#store = store;
    const ca = await openConnectorCa(store, { caKey: this.config.caKey, logger: this.#options.logger });
    const broadcast = this.#options.broadcast ?? new MemoryBroadcast();
    const registry = new ConnectorRegistry(store, { broadcast });
    await registry.load();
    // Read when a connector pulls, not from the last heartbeat: whichever instance answers the pull lists the instances the store holds now.
    const instances = async (): Promise<readonly GatewayInstance[]> => (await this.#instances?.fresh()) ?? [];
    const configVersion = new ConfigVersion({ store, apps: this.#apps, settings: this.config, audit, events: this.events, broadcast, instances });
    await configVersion.load();
    const retirement = new CertificateRetirement({ registry, tunnels: this.tunnels, events: this.events, audit, clock });
    const { tunnels, events } = this;
    const lifecycle = new ConnectorLifecycle({ registry, ca, settings: this.config, groups: this.#groups, configVersion, tunnels, events, audit, clock });
    this.#opened = { store, ca, registry, configVersion, retirement, lifecycle, broadcast };
    this.#crossInstance = CrossInstance.start({ broadcast, registry, configVersion, retirement, tunnels, events, logger: this.#options.logger });
  }

  #openStore(): SqliteStore {
    const store = SqliteStore.open(this.config.stateDir);
    if (store.imported > 0) {
      this.#options.logger.info(
        { stateDir: this.config.stateDir, keys: store.imported },
        'state imported from the files of an earlier version into the state database',
      );
    }
    return store;
  }

  #require(): Opened {
    if (!this.#opened) throw new Error('ConnectorService.init() has not completed');
    return this.#opened;
  }
}
