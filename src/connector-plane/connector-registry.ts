/**
 * The registered connectors and their certificates, durable in the store and
 * indexed in memory by certificate fingerprint. Several instances may share
 * the store: each write is announced to them, and the index is reloaded
 * from the store when told to, or when a certificate it does not know is
 * presented.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { GatehouseError } from '../errors/index.ts';
import type { Broadcast } from '../store/broadcast.ts';
import { KeyedQueue } from '../store/keyed-queue.ts';
import type { Store } from '../store/store.ts';

const certificateSchema = z.strictObject({
  serialNumber: z.string(),
  fingerprint256: z.string(),
  notBefore: z.string(),
  notAfter: z.string(),
  /** When the service issued it, by the service's clock (epoch seconds): renewal age counts from here. */
  issuedAt: z.number(),
  /** SHA-256 of its public key (SPKI DER, hex): a repeated renewal request is recognised by its key. */
  publicKeyFingerprint256: z.string().optional(),
  /** The certificate itself, so that a repeated renewal request can be answered with it again. */
  pem: z.string().optional(),
});

const recordSchema = z.strictObject({
  id: z.string(),
  group: z.string(),
  name: z.string().optional(),
  certificate: certificateSchema,
  /** The certificate replaced by the last renewal, accepted until `validUntil` (epoch seconds). */
  previous: z.strictObject({ fingerprint256: z.string(), serialNumber: z.string(), validUntil: z.number() }).optional(),
  registeredAt: z.number(),
  registeredBy: z.string(),
  renewedAt: z.number().optional(),
  revoked: z.boolean(),
  revokedAt: z.number().optional(),
  revokedBy: z.string().optional(),
});

export type ConnectorRecord = z.infer<typeof recordSchema>;
export type ConnectorCertificate = z.infer<typeof certificateSchema>;

export type CertificateMatch = { readonly record: ConnectorRecord; readonly which: 'current' | 'previous' };

/** What one reload of a record found: the record before (as indexed here) and after (as stored). */
export interface RecordChange {
  readonly before: ConnectorRecord | undefined;
  readonly after: ConnectorRecord | undefined;
}

/** The broadcast channel on which every durable registry write is announced; the message is the connector id. */
export const CONNECTOR_CHANGED_CHANNEL = 'connector.changed';

/** At most one full reload per second for certificates this instance does not know. */
export const MISS_RELOAD_INTERVAL_MS = 1000;

export interface ConnectorRegistryOptions {
  /** Where each durable write is announced to the instances sharing the store. Default: nowhere. */
  readonly broadcast?: Pick<Broadcast, 'publish'> | undefined;
  /** The least time between two reloads caused by unknown certificates. */
  readonly missReloadIntervalMs?: number;
}

const PREFIX = 'connector:';

/**
 * The registered connectors, kept in the Store (one key each) with an
 * in-memory index by certificate fingerprint for the per-request check.
 */
export class ConnectorRegistry {
  readonly #store: Store;
  readonly #broadcast: Pick<Broadcast, 'publish'> | undefined;
  readonly #missInterval: number;
  readonly #records = new Map<string, ConnectorRecord>();
  readonly #byFingerprint = new Map<string, string>();
  /** Writes and reloads of one record run one at a time, so an older read never replaces a newer one. */
  readonly #queue = new KeyedQueue();
  /** For each full reload in progress, the ids indexed meanwhile by a fresher read: the reload leaves those alone. */
  readonly #fresher = new Set<Set<string>>();
  #lastMissReload = Number.NEGATIVE_INFINITY;
  #nextMissReload: Promise<void> | undefined;

  constructor(store: Store, options: ConnectorRegistryOptions = {}) {
    this.#store = store;
    this.#broadcast = options.broadcast;
    this.#missInterval = options.missReloadIntervalMs ?? MISS_RELOAD_INTERVAL_MS;
  }

  /** Reads every record from the store and indexes it. Resolves the ids whose record changed. */
  async load(): Promise<string[]> {
    const fresher = new Set<string>();
    this.#fresher.add(fresher);
    try {
      const stored: ConnectorRecord[] = [];
      for (const key of await this.#store.list(PREFIX)) {
        const record = parseRecord(await this.#store.get(key));
        if (record) stored.push(record);
      }
      const changed: string[] = [];
      for (const record of stored) {
        if (fresher.has(record.id) || sameRecord(this.#records.get(record.id), record)) continue;
        this.#replace(record);
        changed.push(record.id);
      }
      return changed;
    } finally {
      this.#fresher.delete(fresher);
    }
  }

  /** Reads one record from the store again and indexes it. */
  refresh(id: string): Promise<RecordChange> {
    return this.#queue.run(id, async () => {
      const before = this.#records.get(id);
      const after = parseRecord(await this.#store.get(`${PREFIX}${id}`));
      if (after) this.#replace(after);
      return { before, after: after ?? before };
    });
  }

  /**
   * The certificate's record, reading the whole registry again first when
   * this instance does not know the certificate: another instance may have
   * issued it. Such reloads are at most one per interval, however many
   * unknown certificates arrive; callers meanwhile wait for the next one.
   */
  async lookup(fingerprint256: string): Promise<CertificateMatch | undefined> {
    const known = this.byFingerprint(fingerprint256);
    if (known) return known;
    await this.#reloadOnMiss();
    return this.byFingerprint(fingerprint256);
  }

  static newId(): string {
    return `c-${randomBytes(10).toString('hex')}`;
  }

  get(id: string): ConnectorRecord | undefined {
    return this.#records.get(id);
  }

  all(): ConnectorRecord[] {
    return [...this.#records.values()];
  }

  byFingerprint(fingerprint256: string): CertificateMatch | undefined {
    const id = this.#byFingerprint.get(fingerprint256);
    const record = id === undefined ? undefined : this.#records.get(id);
    if (!record) return undefined;
    if (record.certificate.fingerprint256 === fingerprint256) return { record, which: 'current' };
    if (record.previous?.fingerprint256 === fingerprint256) return { record, which: 'previous' };
    return undefined;
  }

  /** Writes a record durably, makes it visible, then announces it. */
  async save(record: ConnectorRecord): Promise<void> {
    const value = JSON.stringify(recordSchema.parse(record));
    await this.#queue.run(record.id, async () => {
      await this.#store.put(`${PREFIX}${record.id}`, value);
      this.#replace(record);
    });
    await this.announce(record.id);
  }

  /**
   * Changes a record as it is in the store, not as this instance last saw it:
   * `change` gets the stored record and returns the new one (written only if
   * nobody wrote it meanwhile, else `change` runs again on the newer one) or
   * undefined to leave it. Throws ERR_CONNECTOR_NOT_FOUND for an unknown id.
   */
  async update(id: string, change: (current: ConnectorRecord) => ConnectorRecord | undefined): Promise<{ record: ConnectorRecord; changed: boolean }> {
    const result = await this.#queue.run(id, async () => {
      for (;;) {
        const raw = await this.#store.get(`${PREFIX}${id}`);
        const current = parseRecord(raw);
        if (!current) throw new GatehouseError('ERR_CONNECTOR_NOT_FOUND', 'unknown_connector');
        const next = change(current);
        if (!next) {
          this.#replace(current);
          return { record: current, changed: false };
        }
        if (await this.#store.compareAndSet(`${PREFIX}${id}`, raw, JSON.stringify(recordSchema.parse(next)))) {
          this.#replace(next);
          return { record: next, changed: true };
        }
      }
    });
    if (result.changed) await this.announce(id);
    return result;
  }

  #reloadOnMiss(): Promise<void> {
    // A reload not started yet will read after this miss: join it.
    if (this.#nextMissReload) return this.#nextMissReload;
    const wait = Math.max(0, this.#lastMissReload + this.#missInterval - performance.now());
    const next = new Promise<void>((resolve) => setTimeout(resolve, wait).unref()).then(async () => {
      this.#nextMissReload = undefined;
      this.#lastMissReload = performance.now();
      await this.load();
    });
    this.#nextMissReload = next;
    return next;
  }

  /** Tells the other instances to read the record again, e.g. once more after an announcement failed. */
  async announce(id: string): Promise<void> {
    await this.#broadcast?.publish(CONNECTOR_CHANGED_CHANNEL, id);
  }

  #replace(record: ConnectorRecord): void {
    for (const fresher of this.#fresher) fresher.add(record.id);
    const before = this.#records.get(record.id);
    if (before) {
      this.#byFingerprint.delete(before.certificate.fingerprint256);
      if (before.previous) this.#byFingerprint.delete(before.previous.fingerprint256);
    }
    this.#records.set(record.id, record);
    this.#byFingerprint.set(record.certificate.fingerprint256, record.id);
    if (record.previous) this.#byFingerprint.set(record.previous.fingerprint256, record.id);
  }
}

function parseRecord(raw: string | undefined): ConnectorRecord | undefined {
  if (raw === undefined) return undefined;
  const parsed = recordSchema.safeParse(JSON.parse(raw));
  return parsed.success ? parsed.data : undefined;
}

function sameRecord(a: ConnectorRecord | undefined, b: ConnectorRecord): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}
