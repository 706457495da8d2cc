import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditUser } from '../audit/events.ts';
import { nowSeconds, type Clock } from '../clock.ts';
import type { AppConfig, ConnectorsConfig, TlsMaterial } from '../config/parse.ts';
import { GatehouseError } from '../errors.ts';
import {
  CONNECTOR_LISTENER_HEADERS_TIMEOUT_MS,
  CONNECTOR_LISTENER_MAX_HEADER_BYTES,
  CONNECTOR_LISTENER_REQUEST_TIMEOUT_MS,
  SERVER_KEEP_ALIVE_TIMEOUT_MS,
} from '../limits.ts';
import type { Logger } from '../logging/logger.ts';
import { ConnectorCa, createConnectorCa } from '../pki/connector-ca.ts';
import type { VerifiedCsr } from '../pki/csr.ts';
import { FileStore } from '../store/file-store.ts';
import type { Store } from '../store/store.ts';
import type { RecentEvents } from '../audit/recent-events.ts';
import { AdminTokenVerifier } from './admin-token.ts';
import { certificateStanding } from './connector-auth.ts';
import { ConnectorEvents } from './connector-events.ts';
import { ConnectorRegistry, type ConnectorRecord } from './connector-registry.ts';
import { createConnectorApp } from './connector-routes.ts';
import { TunnelAcceptor } from './tunnel-acceptor.ts';
import { TunnelPool } from '../tunnel/tunnel-pool.ts';
import type { TunnelSession } from '../tunnel/tunnel-session.ts';
import { TUNNEL_ALPN, TUNNEL_WEBSOCKET_PATH } from '../tunnel/tunnel-protocol.ts';
import type { ConnectorConfigDocument } from '../protocol/config-document.ts';
import { KeyedQueue } from '../store/keyed-queue.ts';

export const CONNECTOR_ALPN_HTTP = 'http/1.1';

export interface ConnectorServiceOptions {
  readonly config: ConnectorsConfig;
  readonly apps: readonly AppConfig[];
  readonly clock: Clock;
  readonly audit: AuditLog;
  readonly logger: Logger;
  readonly clockToleranceSeconds: number;
  /** The identity provider's JWKS URL and HTTP client, for admin tokens. */
  readonly jwksUri: () => Promise<URL>;
  readonly idpFetch: (url: string, init: RequestInit) => Promise<Response>;
  /** Default: a FileStore in config.stateDir. */
  readonly store?: Store;
  /** Recent audit events, for the admin query API on this listener. */
  readonly recentEvents?: RecentEvents;
}

export type { ConnectorConfigDocument } from '../protocol/config-document.ts';

export interface IssuedConnectorCertificate {
  readonly connectorId: string;
  readonly group: string;
  readonly certificate: string;
  readonly caChain: readonly string[];
  readonly notAfter: string;
  readonly renewalAgeSeconds: number;
}

const CA_KEY = 'connector-ca';
const VERSION_KEY = 'config-version';

/**
 * The service side of the connector's life: its CA, the registry of
 * connectors, the configuration version they pull, and the TLS listener they
 * dial. Everything here is reached by connectors outbound.
 */
export class ConnectorService {
  readonly config: ConnectorsConfig;
  readonly events = new ConnectorEvents();
  /** Live tunnels by connector group: what the dispatcher forwards through. */
  readonly tunnels = new TunnelPool();
  readonly adminTokens: AdminTokenVerifier;
  readonly #options: ConnectorServiceOptions;
  #store: Store | undefined;
  #ca: ConnectorCa | undefined;
  #registry: ConnectorRegistry | undefined;
  #version = 0;
  #tls: TlsServer | undefined;
  #http: HttpServer | undefined;
  #ticker: NodeJS.Timeout | undefined;
  #init: Promise<void> | undefined;
  readonly #sockets = new Set<Socket>();
  readonly #renewNotified = new Set<string>();
  /** Tunnels already closed for their certificate, until they are gone: one close and one audit event each. */
  readonly #retired = new WeakSet<TunnelSession>();
  /** Renewals of one connector run one at a time, so two at once cannot both replace its certificate. */
  readonly #renewals = new KeyedQueue();

  constructor(options: ConnectorServiceOptions) {
    this.#options = options;
    this.config = options.config;
    this.adminTokens = new AdminTokenVerifier({
      settings: options.config.admin,
      jwksUri: options.jwksUri,
      fetch: options.idpFetch,
      clock: options.clock,
      clockToleranceSeconds: options.clockToleranceSeconds,
    });
  }

  /** Opens the store, loads or creates the connector CA, loads the registry. Idempotent. */
  init(): Promise<void> {
    this.#init ??= this.#doInit();
    return this.#init;
  }

  get ca(): ConnectorCa {
    if (!this.#ca) throw new Error('ConnectorService.init() has not completed');
    return this.#ca;
  }

  get registry(): ConnectorRegistry {
    if (!this.#registry) throw new Error('ConnectorService.init() has not completed');
    return this.#registry;
  }

  /** Where the connector listener listens, once listen() has run. */
  address(): AddressInfo | undefined {
    const address = this.#tls?.address();
    return address && typeof address === 'object' ? address : undefined;
  }

  /** The service's durable store, once init() has opened it. */
  async store(): Promise<Store> {
    await this.init();
    return this.#requireStore();
  }

  get version(): number {
    return this.#version;
  }

  get clock(): Clock {
    return this.#options.clock;
  }

  get audit(): AuditLog {
    return this.#options.audit;
  }

  get recentEvents(): RecentEvents | undefined {
    return this.#options.recentEvents;
  }

  get logger(): Logger {
    return this.#options.logger;
  }

  /** Connector groups that exist: those the apps name, and "default". */
  groups(): Set<string> {
    return new Set(['default', ...this.#options.apps.map((app) => app.connectorGroup)]);
  }

  configFor(record: ConnectorRecord): ConnectorConfigDocument {
    return {
      version: this.#version,
      connectorId: record.id,
      group: record.group,
      apps: this.#options.apps
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
      heartbeatIntervalSeconds: this.config.heartbeatInterval,
      renewal: {
        ageSeconds: this.config.renewalAge,
        issuedAt: new Date(record.certificate.issuedAt * 1000).toISOString(),
        due: this.isRenewalDue(record),
      },
    };
  }

  isRenewalDue(record: ConnectorRecord): boolean {
    return nowSeconds(this.#options.clock) - record.certificate.issuedAt >= this.config.renewalAge;
  }

  /** Signs a verified request for a new connector and records it. */
  async register(csr: VerifiedCsr, group: string, name: string | undefined, admin: AuditUser): Promise<IssuedConnectorCertificate> {
    if (!this.groups().has(group)) throw new GatehouseError('ERR_UNKNOWN_GROUP', 'unknown_group');
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
    await this.registry.save(record);
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
  renew(connectorId: string, fingerprint256: string, csr: VerifiedCsr): Promise<{ readonly answer: IssuedConnectorCertificate; readonly repeated: boolean }> {
    return this.#renewals.run(connectorId, () => this.#renewNow(connectorId, fingerprint256, csr));
  }

  async #renewNow(connectorId: string, fingerprint256: string, csr: VerifiedCsr): Promise<{ answer: IssuedConnectorCertificate; repeated: boolean }> {
    const record = this.registry.get(connectorId);
    if (!record) throw new GatehouseError('ERR_CONNECTOR_NOT_FOUND', 'unknown_connector');
    if (record.revoked) throw new GatehouseError('ERR_CERT_REVOKED', 'revoked');
    if (record.certificate.fingerprint256 !== fingerprint256) {
      const current = record.certificate;
      if (current.pem === undefined || current.publicKeyFingerprint256 !== csr.publicKeyFingerprint256) {
        throw new GatehouseError('ERR_CERT_SUPERSEDED', 'already_renewed');
      }
      return { answer: this.#answer(record, current.pem), repeated: true };
    }
    const now = nowSeconds(this.#options.clock);
    const issued = this.#issue(csr, record.id, record.group);
    const updated: ConnectorRecord = {
      ...record,
      certificate: { ...issued.meta, issuedAt: now },
      previous: {
        fingerprint256: record.certificate.fingerprint256,
        serialNumber: record.certificate.serialNumber,
        validUntil: now + this.config.renewalGrace,
      },
      renewedAt: now,
    };
    await this.registry.save(updated);
    this.#renewNotified.delete(record.id);
    return { answer: this.#answer(updated, issued.certPem), repeated: false };
  }

  async revoke(id: string, by: AuditUser | undefined): Promise<ConnectorRecord> {
    const record = this.registry.get(id);
    if (!record) throw new GatehouseError('ERR_CONNECTOR_NOT_FOUND', 'unknown_connector');
    const now = nowSeconds(this.#options.clock);
    const updated: ConnectorRecord = { ...record, revoked: true, revokedAt: now, ...(by ? { revokedBy: by.sub } : {}) };
    await this.registry.save(updated);
    // Tunnels first, with the notice: the connector learns why from any link.
    void this.tunnels.closeConnector(id, { code: 'ERR_CERT_REVOKED', reason: 'revoked' });
    this.events.disconnect(id, 'revoked');
    this.audit.emit({ type: 'connector.revoked', outcome: 'success', user: by, details: { connectorId: id, group: record.group } });
    await this.bumpVersion('connector_revoked');
    return updated;
  }

  async moveGroup(id: string, group: string, by: AuditUser | undefined): Promise<ConnectorRecord> {
    const record = this.registry.get(id);
    if (!record) throw new GatehouseError('ERR_CONNECTOR_NOT_FOUND', 'unknown_connector');
    if (!this.groups().has(group)) throw new GatehouseError('ERR_UNKNOWN_GROUP', 'unknown_group');
    const updated: ConnectorRecord = { ...record, group };
    await this.registry.save(updated);
    // Its tunnels serve the old group: it reconnects into the new one.
    void this.tunnels.closeConnector(id);
    this.audit.emit({ type: 'connector.moved', outcome: 'success', user: by, details: { connectorId: id, from: record.group, to: group } });
    await this.bumpVersion('connector_moved');
    return updated;
  }

  /** Raises the configuration version and tells every connected connector to pull again. */
  async bumpVersion(reason: string): Promise<number> {
    const store = this.#requireStore();
    for (;;) {
      const raw = await store.get(VERSION_KEY);
      const current = raw === undefined ? { version: 0, fingerprint: '' } : (JSON.parse(raw) as { version: number; fingerprint: string });
      const next = { version: current.version + 1, fingerprint: this.#appsFingerprint() };
      if (await store.compareAndSet(VERSION_KEY, raw, JSON.stringify(next))) {
        this.#version = next.version;
        break;
      }
    }
    this.audit.emit({ type: 'config.changed', outcome: 'info', reason, details: { version: this.#version } });
    this.events.broadcast('config', { version: this.#version });
    return this.#version;
  }

  /** Starts the connector listener. */
  async listen(port = this.config.listen.port, host = this.config.listen.host): Promise<AddressInfo> {
    await this.init();
    const http = createHttpServer({ maxHeaderSize: CONNECTOR_LISTENER_MAX_HEADER_BYTES }, createConnectorApp(this));
    http.headersTimeout = CONNECTOR_LISTENER_HEADERS_TIMEOUT_MS;
    http.requestTimeout = CONNECTOR_LISTENER_REQUEST_TIMEOUT_MS;
    http.keepAliveTimeout = SERVER_KEEP_ALIVE_TIMEOUT_MS;
    http.on('clientError', (_error, socket: Socket) => socket.destroy());
    const acceptor = new TunnelAcceptor(this);
    http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if ((req.url ?? '').split('?')[0] !== TUNNEL_WEBSOCKET_PATH) {
        socket.destroy();
        return;
      }
      acceptor.acceptWebSocket(req, socket, head).catch((error: unknown) => {
        this.logger.warn({ err: error }, 'connector listener: WebSocket tunnel failed');
        socket.destroy();
      });
    });
    const material = this.#listenerTls();
    const tls = createTlsServer({
      cert: material.cert,
      key: material.key,
      // Asked for on every connection, required per route: registration works without one.
      ca: [this.ca.certPem],
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ALPNProtocols: [TUNNEL_ALPN, CONNECTOR_ALPN_HTTP],
    });
    tls.on('secureConnection', (socket: TLSSocket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      socket.setNoDelay(true);
      // ALPN tells tunnels from REST calls; a tunnel is never parsed as HTTP/1 (Node aborts when HTTP/2 runs over a socket taken from an upgrade).
      if (socket.alpnProtocol === TUNNEL_ALPN) acceptor.acceptTls(socket);
      else http.emit('connection', socket);
    });
    tls.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    tls.on('tlsClientError', (error) => this.logger.debug({ err: error }, 'connector listener: TLS handshake failed'));
    await new Promise<void>((resolve, reject) => {
      tls.once('error', reject);
      tls.listen(port, host, () => {
        tls.off('error', reject);
        resolve();
      });
    });
    this.#tls = tls;
    this.#http = http;
    this.#ticker = setInterval(() => this.#tick(), this.config.heartbeatInterval * 1000);
    return tls.address() as AddressInfo;
  }

  async close(): Promise<void> {
    if (this.#ticker) clearInterval(this.#ticker);
    await this.tunnels.drain(1000);
    this.events.closeAll();
    const tls = this.#tls;
    if (tls) {
      await new Promise<void>((resolve) => {
        tls.close(() => resolve());
        for (const socket of this.#sockets) socket.destroy();
      });
    }
    this.#http?.closeAllConnections();
    if (this.#init) {
      await this.#init.catch(() => undefined);
      if (!this.#options.store) await this.#store?.close();
    }
  }

  /**
   * Closes a tunnel whose certificate is no longer accepted (revoked,
   * superseded past its grace period, unknown), telling the connector why.
   * Returns whether it did.
   */
  retireTunnel(session: TunnelSession): boolean {
    if (session.closed || this.#retired.has(session) || session.fingerprint256 === undefined) return false;
    const standing = certificateStanding(this.registry, session.fingerprint256, this.#options.clock());
    if (!(standing instanceof GatehouseError)) return false;
    this.#retired.add(session);
    session.destroy({ code: standing.code, reason: standing.reason });
    this.audit.emit({
      type: 'connector.refused',
      outcome: 'failure',
      code: standing.code,
      reason: standing.reason,
      details: { route: 'tunnel', connectorId: session.connectorId, tunnel: session.id },
    });
    return true;
  }

  /**
   * Heartbeat: keeps streams alive, announces due renewals, and closes every
   * connection whose certificate is no longer accepted, tunnels and REST
   * sockets alike, whether or not the connector holds an event stream.
   */
  #tick(): void {
    this.events.ping();
    for (const id of this.events.connectedIds()) {
      const record = this.registry.get(id);
      if (!record) continue;
      if (this.isRenewalDue(record) && !this.#renewNotified.has(id)) {
        this.#renewNotified.add(id);
        this.events.send(id, 'renew', {});
      }
    }
    this.#retireCertificates();
  }

  #retireCertificates(): void {
    const now = this.#options.clock();
    for (const session of this.tunnels.sessions()) this.retireTunnel(session);
    for (const { socket, fingerprint256 } of [...this.events.trackedSockets()]) {
      if (certificateStanding(this.registry, fingerprint256, now) instanceof GatehouseError) socket.destroy();
    }
  }

  async #doInit(): Promise<void> {
    this.#store = this.#options.store ?? (await FileStore.open(this.config.stateDir));
    const store = this.#store;
    const stored = await store.get(CA_KEY);
    if (stored === undefined) {
      const material = createConnectorCa({ commonName: 'Gatehouse connector CA' });
      // Two instances starting at once must end up with one CA.
      if (!(await store.compareAndSet(CA_KEY, undefined, JSON.stringify(material)))) {
        this.#ca = new ConnectorCa(JSON.parse((await store.get(CA_KEY)) ?? '{}') as { certPem: string; keyPem: string });
      } else {
        this.#ca = new ConnectorCa(material);
      }
    } else {
      this.#ca = new ConnectorCa(JSON.parse(stored) as { certPem: string; keyPem: string });
    }
    this.#registry = new ConnectorRegistry(store);
    await this.#registry.load();
    const raw = await store.get(VERSION_KEY);
    const current = raw === undefined ? undefined : (JSON.parse(raw) as { version: number; fingerprint: string });
    if (!current || current.fingerprint !== this.#appsFingerprint()) await this.bumpVersion('configuration_loaded');
    else this.#version = current.version;
  }

  #issue(csr: VerifiedCsr, connectorId: string, group: string): { certPem: string; meta: Omit<ConnectorRecord['certificate'], 'issuedAt'> } {
    // Validity follows real time: TLS checks it against the real clock, whatever the service's clock says.
    const issued = this.ca.issueClientCertificate(
      csr,
      { connectorId, group },
      {
        validDays: this.config.certificateLifetime / 86_400,
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

  #answer(record: ConnectorRecord, certPem: string): IssuedConnectorCertificate {
    return {
      connectorId: record.id,
      group: record.group,
      certificate: certPem,
      caChain: [this.ca.certPem],
      notAfter: record.certificate.notAfter,
      renewalAgeSeconds: this.config.renewalAge,
    };
  }

  #listenerTls(): TlsMaterial {
    if (this.config.tls) return this.config.tls;
    const hostnames = new Set(['localhost', '127.0.0.1']);
    if (this.config.publicUrl) hostnames.add(new URL(this.config.publicUrl).hostname);
    const issued = this.ca.issueServerCertificate([...hostnames], { validDays: 365, now: Date.now() });
    return { cert: issued.certPem, key: issued.keyPem };
  }

  #appsFingerprint(): string {
    const relevant = {
      apps: this.#options.apps.map((app) => [app.id, app.internalUrl, app.connectorGroup, app.internalTls ?? null]),
      heartbeat: this.config.heartbeatInterval,
      renewalAge: this.config.renewalAge,
    };
    return createHash('sha256').update(JSON.stringify(relevant)).digest('base64url');
  }

  #requireStore(): Store {
    if (!this.#store) throw new Error('ConnectorService.init() has not completed');
    return this.#store;
  }
}
