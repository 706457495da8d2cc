/**
 * The gateway instances that share this store, for connectors to keep their
 * tunnels to each. Every instance records itself (`instance:<id>`: its id and
 * the URL connectors dial to reach it in particular) and renews the record on
 * a heartbeat; the Store has no expiry, so the record carries its own, and
 * expired records are ignored and deleted by whoever reads them. An instance
 * that stops cleanly deletes its own at once.
 *
 * Each instance reads the list on its heartbeat and tells its own connected
 * connectors when the live set changed; since every instance does the same,
 * every connector hears of it on its events stream, wherever that lands.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { INSTANCE_HEARTBEAT_MS, INSTANCE_TTL_MS } from '../limits.ts';
import type { Logger } from '../logging/logger.ts';
import type { Store } from '../store/store.ts';
import type { TunnelPool } from '../tunnel/tunnel-pool.ts';
import { connectorLoads, readInstanceRecord, writeInstanceRecord, type ConnectorLoad } from './instance-record.ts';

const PREFIX = 'instance:';

export interface GatewayInstance {
  readonly id: string;
  readonly url: string;
  /** Each connector's tunnels to it as its record says; undefined: unknown (an older instance's record). */
  readonly connectors?: readonly ConnectorLoad[] | undefined;
  /** Its record lists only the connectors with the most tunnels. */
  readonly truncated?: boolean;
  /** Not renewed for two heartbeats, though not yet expired. */
  readonly stale?: boolean;
}

export interface InstanceRegistryOptions {
  readonly store: Store;
  readonly url: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The live set changed (this instance included), sorted by id. */
  readonly onChange: (instances: readonly GatewayInstance[]) => void;
  /** Default INSTANCE_HEARTBEAT_MS / INSTANCE_TTL_MS. */
  readonly heartbeatMs?: number;
  readonly ttlMs?: number;
  /** Default: random, new at each start. */
  readonly id?: string;
  /** This instance's tunnels, counted per connector into its record on each heartbeat. */
  readonly tunnels?: Pick<TunnelPool, 'sessions'>;
}

export class InstanceRegistry {
  readonly id: string;
  readonly url: string;
  readonly #options: InstanceRegistryOptions;
  readonly #heartbeatMs: number;
  readonly #ttlMs: number;
  #live: readonly GatewayInstance[];
  #timer: NodeJS.Timeout | undefined;
  #beat: Promise<void> | undefined;
  #reading: Promise<readonly GatewayInstance[]> | undefined;
  #nextRead: Promise<readonly GatewayInstance[]> | undefined;
  #closed = false;

  constructor(options: InstanceRegistryOptions) {
    this.#options = options;
    this.id = options.id ?? `gw-${randomBytes(6).toString('hex')}`;
    this.url = options.url;
    this.#heartbeatMs = options.heartbeatMs ?? INSTANCE_HEARTBEAT_MS;
    this.#ttlMs = options.ttlMs ?? INSTANCE_TTL_MS;
    this.#live = [{ id: this.id, url: this.url }];
  }

  /** The instances heard from within the TTL, this one always included, sorted by id. */
  live(): readonly GatewayInstance[] {
    return this.#live;
  }

  /**
   * The live set as the store holds it now, for the document a connector
   * pulls: a connector told of a change by one instance may pull through a
   * load balancer from another that has not had its heartbeat since, and must
   * not get that one's older list. Reads already under way are shared only
   * with callers that came before they started; the others wait for the next
   * one, so however many connectors pull at once, the store sees one read at a
   * time. A store that does not answer: the list of the last heartbeat.
   */
  fresh(): Promise<readonly GatewayInstance[]> {
    if (this.#closed) return Promise.resolve(this.#live);
    if (this.#reading === undefined) {
      this.#reading = this.#read().finally(() => (this.#reading = undefined));
      return this.#reading;
    }
    this.#nextRead ??= this.#reading.then(() => {
      this.#nextRead = undefined;
      return this.fresh();
    });
    return this.#nextRead;
  }

  /** Records this instance and reads the others; then keeps doing so on the heartbeat. */
  async start(): Promise<void> {
    await this.heartbeat();
    this.#timer = setInterval(() => void this.heartbeat(), this.#heartbeatMs);
    this.#timer.unref();
  }

  /** One round: renew this instance's record, read the live set, delete expired records. A store that fails is retried next round. */
  heartbeat(): Promise<void> {
    this.#beat ??= this.#round()
      .catch((error: unknown) => this.#options.logger.warn({ err: error }, 'instance registry: the store did not answer; retried on the next heartbeat'))
      .finally(() => (this.#beat = undefined));
    return this.#beat;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#beat;
    await this.#options.store.delete(PREFIX + this.id).catch(() => undefined);
  }

  async #round(): Promise<void> {
    if (this.#closed) return;
    const { store, clock } = this.#options;
    await store.put(PREFIX + this.id, writeInstanceRecord(this.id, this.url, clock() + this.#ttlMs, this.#loads()));
    this.#update(await this.#collect(true));
  }

  async #read(): Promise<readonly GatewayInstance[]> {
    try {
      this.#update(await this.#collect(false));
    } catch (error) {
      this.#options.logger.warn({ err: error }, 'instance registry: the store did not answer; the list of the last heartbeat is used');
    }
    return this.#live;
  }

  /** The records not expired, this instance always included, sorted by id; the heartbeat also deletes the expired ones. */
  async #collect(removeExpired: boolean): Promise<GatewayInstance[]> {
    const { store, clock } = this.#options;
    const now = clock();
    const live: GatewayInstance[] = [];
    for (const key of await store.list(PREFIX)) {
      const raw = await store.get(key);
      const record = raw === undefined ? undefined : readInstanceRecord(raw);
      if (record && record.expiresAt > now) {
        const { id, url, connectors, truncated, expiresAt } = record;
        const stale = now - (expiresAt - this.#ttlMs) > 2 * this.#heartbeatMs;
        live.push({ id, url, ...(connectors ? { connectors } : {}), ...(truncated ? { truncated } : {}), ...(stale ? { stale } : {}) });
      }
      // Expired (or unreadable): gone. Deleting it only if unchanged keeps a record renewed meanwhile.
      else if (removeExpired && raw !== undefined) await store.compareAndSet(key, raw, '{"gone":true}').then((won) => (won ? store.delete(key) : undefined));
    }
    const own = live.findIndex((instance) => instance.id === this.id);
    const loads = this.#loads();
    // This instance's own tunnels are known now, not as of its last record.
    const self = { id: this.id, url: this.url, ...(loads ? { connectors: loads } : {}) };
    if (own === -1) live.push(self);
    else live[own] = self;
    return live.sort((a, b) => a.id.localeCompare(b.id));
  }

  #loads(): ConnectorLoad[] | undefined {
    const tunnels = this.#options.tunnels;
    return tunnels ? connectorLoads(tunnels.sessions()) : undefined;
  }

  #update(live: readonly GatewayInstance[]): void {
    if (this.#closed) return;
    const changed = !sameSet(live, this.#live);
    this.#live = live;
    if (changed) this.#options.onChange(live);
  }
}

function sameSet(a: readonly GatewayInstance[], b: readonly GatewayInstance[]): boolean {
  return a.length === b.length && a.every((instance, index) => instance.id === b[index]?.id && instance.url === b[index]?.url);
}
