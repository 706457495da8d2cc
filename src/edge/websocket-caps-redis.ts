/**
 * The WebSocket caps over every instance, with Redis: each socket this
 * instance admits holds a lease in the sets of its session and its address
 * (websocket-lease-scripts.ts), renewed while it is open, given back when it
 * closes, all of them when the gateway closes. An instance that dies without
 * giving them back stops counting once its leases end.
 *
 * Redis unreachable or slow (no answer within the timeout): the upgrade is
 * decided by this instance's counts alone, a warning is logged (at most once
 * a minute) and counted; such a socket's lease is added by the next renewal
 * once Redis answers, so the shared counts catch up with what is open.
 * docs/reliability.md ("WebSocket caps") states the error this allows.
 */
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { GatehouseConfigError } from '../errors/index.ts';
import { WEBSOCKET_LEASE_MS, WEBSOCKET_LEASE_RENEW_INTERVAL_MS, WEBSOCKET_LEASE_TIMEOUT_MS } from '../limits.ts';
import type { Logger } from '../logging/logger.ts';
import { CounterCells } from '../metrics/counter-cells.ts';
import type { RedisConnection } from '../store/redis-connection.ts';
import { WebSocketCaps, type SharedWebSocketCounts, type WebSocketCapReason, type WebSocketCapSettings } from './websocket-caps.ts';
import { ADMIT, addressLeaseKey, admitAnswer, RENEW, runScript, sessionLeaseKey } from './websocket-lease-scripts.ts';

/** How often a failing store is reported in the log, at most. */
const WARNING_INTERVAL_MS = 60_000;
/** Leases renewed by one script call: a bounded number of arguments, and Redis busy for a bounded time. */
const RENEW_BATCH = 500;

const leaseOptionsSchema = z
  .object({
    leaseMs: z.number().int().positive().optional(),
    renewIntervalMs: z.number().int().positive().optional(),
    timeoutMs: z.number().int().positive().optional(),
  })
  .strict()
  .refine(({ leaseMs = WEBSOCKET_LEASE_MS, renewIntervalMs = WEBSOCKET_LEASE_RENEW_INTERVAL_MS }) => renewIntervalMs < leaseMs, {
    message: 'renewIntervalMs must be shorter than leaseMs, or leases end while their sockets are open',
  });

/** The timing of the WebSocket leases in Redis (tests shorten them); each has a default in limits.ts. */
export interface WebSocketLeaseOptions {
  /** How long a lease holds without renewal: an instance that dies stops counting after this. Default WEBSOCKET_LEASE_MS (30 s). */
  readonly leaseMs?: number;
  /** How often an instance renews its leases; shorter than `leaseMs`. Default WEBSOCKET_LEASE_RENEW_INTERVAL_MS (10 s). */
  readonly renewIntervalMs?: number;
  /** How long an upgrade waits for Redis before this instance's counts decide. Default WEBSOCKET_LEASE_TIMEOUT_MS (500 ms). */
  readonly timeoutMs?: number;
}

export interface RedisWebSocketLeasesOptions extends WebSocketLeaseOptions {
  readonly logger?: Logger | undefined;
  /** Where its metric goes (the gateway's registry). */
  readonly registry?: Registry | undefined;
}

type Operation = 'admit' | 'renew' | 'release';

export class RedisWebSocketLeases implements SharedWebSocketCounts {
  readonly #redis: RedisConnection;
  readonly #options: RedisWebSocketLeasesOptions;
  readonly #leaseMs: number;
  readonly #timeoutMs: number;
  readonly #renewIntervalMs: number;
  /** Names this instance's members: leases of an earlier process under the same name cannot be taken for its own. */
  readonly #instance = randomBytes(8).toString('hex');
  /** This instance's leases: member → the sets it is in. */
  readonly #leases = new Map<string, readonly string[]>();
  readonly #errors: CounterCells | undefined;
  #serial = 0;
  #timer: NodeJS.Timeout | undefined;
  #warnedAt = Number.NEGATIVE_INFINITY;
  #closed = false;

  /** Over the gateway's shared connection, which stays the caller's to close. */
  constructor(redis: RedisConnection, options: RedisWebSocketLeasesOptions = {}) {
    const { logger, registry, ...timing } = options;
    checkLeaseOptions(timing);
    this.#redis = redis;
    this.#options = { logger, registry };
    this.#leaseMs = timing.leaseMs ?? WEBSOCKET_LEASE_MS;
    this.#renewIntervalMs = timing.renewIntervalMs ?? WEBSOCKET_LEASE_RENEW_INTERVAL_MS;
    this.#timeoutMs = timing.timeoutMs ?? WEBSOCKET_LEASE_TIMEOUT_MS;
    this.#errors =
      registry &&
      new CounterCells(registry, {
        name: 'gatehouse_websocket_lease_errors_total',
        help: 'Calls to Redis for the shared WebSocket caps that failed or timed out, by operation (admit: the upgrade was decided by this instance alone).',
        labelNames: ['operation'],
      });
    this.#schedule();
  }

  /** Leases this instance holds now. */
  get size(): number {
    return this.#leases.size;
  }

  async admit(socket: Duplex, sessionId: string | undefined, address: string, settings: WebSocketCapSettings): Promise<WebSocketCapReason | undefined> {
    if (this.#closed) return undefined;
    const member = `${this.#instance}:${(this.#serial += 1)}`;
    const keys = sessionId === undefined ? [addressLeaseKey(address)] : [addressLeaseKey(address), sessionLeaseKey(sessionId)];
    // Held from now: a socket closing while Redis answers gives its lease back (its ZREM goes after the script, on the same connection).
    this.#leases.set(member, keys);
    const release = (): void => this.#release(member);
    socket.once('close', release);
    const script = runScript(this.#redis.client, ADMIT, keys, [member, this.#leaseMs, settings.perIp, settings.perSession]);
    // Released while the script was on its way, and its NOSCRIPT retry (or a late answer) came after the release: give it back again.
    script.then(
      () => this.#forgotten([[keys, member]]),
      () => undefined,
    );
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = await Promise.race([
        script,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
        }),
      ]);
      const refused = admitAnswer(answer);
      if (refused) {
        socket.off('close', release);
        this.#leases.delete(member);
      }
      return refused;
    } catch (error) {
      // Fail open to this instance's caps, never closed for everyone; the lease stays ours, the next renewal writes it.
      this.#failed('admit', error);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Gives back every lease of this instance; no renewal from now on. Sent, not awaited: the connection's QUIT waits for it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    const byKey = new Map<string, string[]>();
    for (const [member, keys] of this.#leases) for (const key of keys) byKey.set(key, [...(byKey.get(key) ?? []), member]);
    this.#leases.clear();
    if (!this.#redis.up) return;
    for (const [key, members] of byKey) this.#redis.client.zrem(key, ...members).catch((error: unknown) => this.#failed('release', error));
  }

  #release(member: string): void {
    const keys = this.#leases.get(member);
    if (!keys || this.#closed) return;
    this.#leases.delete(member);
    this.#remove(keys, member);
  }

  /** Removes again the members among `written` that are no longer ours: a script may have written them after their release. */
  #forgotten(written: ReadonlyArray<readonly [readonly string[], string]>): void {
    for (const [keys, member] of written) if (!this.#leases.has(member)) this.#remove(keys, member);
  }

  #remove(keys: readonly string[], member: string): void {
    if (!this.#redis.up) return;
    // A lease not given back (Redis unreachable) ends by itself.
    for (const key of keys) this.#redis.client.zrem(key, member).catch((error: unknown) => this.#failed('release', error));
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#renew().finally(() => this.#schedule()), this.#renewIntervalMs);
    this.#timer.unref();
  }

  /** Every lease of this instance, extended in one round trip (batches sent together). */
  async #renew(): Promise<void> {
    const pairs: Array<readonly [string, string]> = [];
    for (const [member, keys] of this.#leases) for (const key of keys) pairs.push([key, member]);
    const batches: Array<Promise<unknown>> = [];
    for (let start = 0; start < pairs.length; start += RENEW_BATCH) {
      const batch = pairs.slice(start, start + RENEW_BATCH);
      batches.push(
        runScript(
          this.#redis.client,
          RENEW,
          batch.map(([key]) => key),
          [this.#leaseMs, ...batch.map(([, member]) => member)],
        ),
      );
    }
    try {
      await Promise.all(batches);
      this.#forgotten(pairs.map(([key, member]) => [[key], member]));
    } catch (error) {
      this.#failed('renew', error);
    }
  }

  #failed(operation: Operation, error: unknown): void {
    this.#errors?.inc(operation);
    const now = Date.now();
    if (now - this.#warnedAt < WARNING_INTERVAL_MS) return;
    this.#warnedAt = now;
    this.#options.logger?.warn({ err: error, operation }, 'WebSocket caps: Redis cannot be reached or is slow; each instance counts only its own WebSockets');
  }
}

/** The gateway's one set of WebSocket caps, kept across reloads: with Redis, counted over every instance. */
export function createWebSocketCaps(options: RedisWebSocketLeasesOptions & { readonly redis: RedisConnection | undefined }): WebSocketCaps {
  const { redis, ...rest } = options;
  // Checked with or without Redis: a wrong option is wrong before the store is.
  const { logger: _logger, registry: _registry, ...timing } = rest;
  checkLeaseOptions(timing);
  return new WebSocketCaps(redis && new RedisWebSocketLeases(redis, rest));
}

function checkLeaseOptions(timing: WebSocketLeaseOptions): void {
  const parsed = leaseOptionsSchema.safeParse(timing);
  if (!parsed.success) throw new GatehouseConfigError(parsed.error.issues.map((issue) => `websocketLeases.${issue.path.join('.')}: ${issue.message}`));
}
