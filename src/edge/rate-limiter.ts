/**
 * Requests per second per client source, for callers with no session or
 * access token: this instance's token buckets decide at once, and with
 * Redis every instance adds what it let through to shared buckets about
 * every RATE_LIMIT_SYNC_INTERVAL_MS and takes their word back, so that a
 * source spread over the instances is held to one limit (docs/reliability.md,
 * "Rate limits", gives the error of that approximation). A refused request
 * costs no store call: it is counted, audited (the flood guard aggregates),
 * and answered.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../clock.ts';
import type { RateBucket, RateLimitName, RateLimitSettings } from '../config/rate-limit-schema.ts';
import { networkOf } from '../ip/network-key.ts';
import { RATE_LIMIT_SYNC_BATCH, RATE_LIMIT_SYNC_INTERVAL_MS } from '../limits.ts';
import type { Logger } from '../logging/logger.ts';
import { CounterCells } from '../metrics/counter-cells.ts';
import type { RedisConnection } from '../store/redis-connection.ts';
import { RedisSharedBuckets, type SharedBuckets } from './rate-limit-redis.ts';
import { RateLimitTable, type Bucket } from './rate-limit-table.ts';

/** How often a failing shared store is reported in the log, at most. */
const SYNC_WARNING_INTERVAL_MS = 60_000;

/** Each limit's name in metrics, audit reasons and refusals. */
export const RATE_LIMIT_LABELS: Readonly<Record<RateLimitName, string>> = {
  anonymous: 'anonymous',
  signin: 'signin',
  callback: 'callback',
  backchannelLogout: 'backchannel_logout',
  connectorRegister: 'connector_register',
  connectorAdmin: 'connector_admin',
};

export interface RateLimiterOptions {
  readonly clock: Clock;
  readonly audit: AuditLog;
  /** Where its metrics go (the gateway's registry). */
  readonly registry?: Registry | undefined;
  /** The buckets all instances share (Redis); absent, this instance's are the only ones (memory, SQLite: one instance). */
  readonly shared?: SharedBuckets | undefined;
  readonly logger?: Logger | undefined;
  readonly syncIntervalMs?: number;
}

/** Who is asking, for the audit event of a refusal. */
export interface RateLimitCaller {
  readonly clientIp: string;
  readonly app?: string | undefined;
  readonly userAgent?: string | undefined;
  readonly requestId?: string | undefined;
}

interface InFlight {
  readonly key: string;
  readonly bucket: Bucket;
  readonly count: number;
}

export class RateLimiter {
  readonly #options: RateLimiterOptions;
  readonly #table = new RateLimitTable();
  /** Buckets with requests the shared buckets have not been told of. */
  readonly #dirty = new Map<string, Bucket>();
  readonly #refused: CounterCells | undefined;
  readonly #syncIntervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #syncing = false;
  #syncErrors = 0;
  #warnedAt = Number.NEGATIVE_INFINITY;
  #closed = false;

  constructor(options: RateLimiterOptions) {
    this.#options = options;
    this.#syncIntervalMs = options.syncIntervalMs ?? RATE_LIMIT_SYNC_INTERVAL_MS;
    const { registry } = options;
    if (!registry) return;
    this.#refused = new CounterCells(registry, {
      name: 'gatehouse_rate_limited_total',
      help: 'Requests refused with 429 by a rate limit (limits.rate), by limit.',
      labelNames: ['limit'],
    });
    const table = this.#table;
    const errors = (): number => this.#syncErrors;
    new Gauge({
      name: 'gatehouse_rate_limit_clients',
      help: 'Rate-limit buckets (one per limit and client address) kept on this instance, at most limits.rate.maxClients.',
      registers: [registry],
      collect() {
        this.set(table.size);
      },
    });
    new Counter({
      name: 'gatehouse_rate_limit_evictions_total',
      help: 'Rate-limit buckets evicted to keep the table within limits.rate.maxClients.',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(table.evictions);
      },
    });
    new Counter({
      name: 'gatehouse_rate_limit_sync_errors_total',
      help: 'Syncs with the shared rate-limit buckets in Redis that failed (this instance then limits on its own).',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(errors());
      },
    });
  }

  /** Buckets kept on this instance. */
  get size(): number {
    return this.#table.size;
  }

  /**
   * One request of `caller` under the limit `name`: 0 when it may go on, else the seconds after which it may (its
   * `Retry-After`), the refusal counted and audited. With `peek`, a bucket that is not empty is not taken from: the
   * caller charges the request later if it turns out to be one to count (see charge()).
   */
  check(name: RateLimitName, settings: RateLimitSettings, caller: RateLimitCaller, peek = false): number {
    const limit = settings[name];
    if (limit === false) return 0;
    const key = keyOf(name, caller.clientIp);
    const wait = this.#table.take(key, limit, this.#options.clock(), settings.maxClients, peek);
    if (wait === 0) {
      if (!peek) this.#admitted(key, limit);
      return 0;
    }
    this.#refused?.inc(RATE_LIMIT_LABELS[name]);
    this.#options.audit.emit({
      type: 'request.rate_limited',
      outcome: 'failure',
      code: 'ERR_RATE_LIMITED',
      reason: RATE_LIMIT_LABELS[name],
      app: caller.app,
      clientIp: caller.clientIp,
      userAgent: caller.userAgent,
      requestId: caller.requestId,
      details: { perSecond: limit.perSecond, burst: limit.burst },
    });
    return wait;
  }

  /** Counts a request that went through uncharged and turned out to be one to count (its session or token was refused). */
  charge(name: RateLimitName, settings: RateLimitSettings, clientIp: string): void {
    const limit = settings[name];
    if (limit === false) return;
    const key = keyOf(name, clientIp);
    this.#table.charge(key, limit, this.#options.clock(), settings.maxClients);
    this.#admitted(key, limit);
  }

  /** Stops syncing; what was not yet told to the shared buckets is dropped. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dirty.clear();
  }

  #admitted(key: string, limit: RateBucket): void {
    if (!this.#options.shared || this.#closed) return;
    const bucket = this.#table.get(key);
    if (!bucket) return;
    bucket.limit = limit;
    bucket.pending += 1;
    this.#dirty.set(key, bucket);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer || this.#syncing || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#sync();
    }, this.#syncIntervalMs);
    this.#timer.unref();
  }

  /** Tells the shared buckets what went through here, and takes their word back; one sync at a time. */
  async #sync(): Promise<void> {
    const shared = this.#options.shared;
    if (!shared || this.#closed) return;
    this.#syncing = true;
    const batch: InFlight[] = [];
    for (const [key, bucket] of this.#dirty) {
      if (batch.length >= RATE_LIMIT_SYNC_BATCH) break;
      this.#dirty.delete(key);
      if (bucket.pending === 0) continue;
      batch.push({ key, bucket, count: bucket.pending });
      bucket.pending = 0;
    }
    const sentAt = this.#options.clock();
    try {
      const left = await shared.charge(
        batch.map(({ key, bucket, count }) => ({ key, count, limit: bucket.limit })),
        sentAt,
      );
      const now = this.#options.clock();
      batch.forEach(({ bucket }, index) => RateLimitTable.adopt(bucket, bucket.limit, left[index] ?? bucket.limit.burst, sentAt, now));
    } catch (error) {
      // Each instance goes on limiting on its own: a store outage never lets a flood through unlimited, nor refuses everyone.
      this.#syncErrors += 1;
      const now = this.#options.clock();
      if (now - this.#warnedAt >= SYNC_WARNING_INTERVAL_MS) {
        this.#warnedAt = now;
        this.#options.logger?.warn({ err: error }, 'rate limits: the shared buckets in Redis cannot be reached; each instance limits on its own');
      }
    } finally {
      this.#syncing = false;
      if (this.#dirty.size > 0) this.#schedule();
    }
  }
}

/** The gateway's one limiter, kept across reloads: with Redis, its buckets are shared by every instance. */
export function createRateLimiter(options: Omit<RateLimiterOptions, 'shared'> & { readonly redis: RedisConnection | undefined }): RateLimiter {
  const { redis, ...rest } = options;
  return new RateLimiter({ ...rest, shared: redis && new RedisSharedBuckets(redis) });
}

/**
 * A bucket's key: the limit and the client's source. IPv6 addresses of one /64 are one source, since one host can
 * pick any address in its /64; IPv4-mapped addresses count as IPv4.
 */
function keyOf(name: RateLimitName, clientIp: string): string {
  if (!clientIp.includes(':')) return `${name}:${clientIp}`;
  const network = networkOf(clientIp, 32, 64);
  return `${name}:${network?.endsWith('/32') ? network.slice(0, -3) : (network ?? clientIp)}`;
}
