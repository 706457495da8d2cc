/**
 * The registered connectors and their certificates, durable in the store and
 * indexed in memory by certificate fingerprint.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
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

const PREFIX = 'connector:';

/**
 * The registered connectors, kept in the Store (one key each) with an
 * in-memory index by certificate fingerprint for the per-request check.
 */
export class ConnectorRegistry {
  readonly #store: Store;
  readonly #records = new Map<string, ConnectorRecord>();
  readonly #byFingerprint = new Map<string, string>();

  constructor(store: Store) {
    this.#store = store;
  }

  async load(): Promise<void> {
    for (const key of await this.#store.list(PREFIX)) {
      const raw = await this.#store.get(key);
      if (raw === undefined) continue;
      const parsed = recordSchema.safeParse(JSON.parse(raw));
      if (parsed.success) this.#index(parsed.data);
    }
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

  /** Writes a record durably, then makes it visible. */
  async save(record: ConnectorRecord): Promise<void> {
    await this.#store.put(`${PREFIX}${record.id}`, JSON.stringify(recordSchema.parse(record)));
    const before = this.#records.get(record.id);
    if (before) {
      this.#byFingerprint.delete(before.certificate.fingerprint256);
      if (before.previous) this.#byFingerprint.delete(before.previous.fingerprint256);
    }
    this.#index(record);
  }

  #index(record: ConnectorRecord): void {
    this.#records.set(record.id, record);
    this.#byFingerprint.set(record.certificate.fingerprint256, record.id);
    if (record.previous) this.#byFingerprint.set(record.previous.fingerprint256, record.id);
  }
}
