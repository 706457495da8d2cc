/**
 * Connections to Redis for every part that keeps state there. One command
 * connection per process, shared; pub/sub needs a connection of its own
 * (a subscribed connection can run nothing else), made with `subscriber()`.
 *
 * Commands fail fast while Redis is unreachable (no offline queue, a command
 * timeout): the callers decide what an unreachable store means for them
 * (refuse a sign-in, keep serving from a local cache), and no request waits
 * on a queue that may never drain. ioredis reconnects on its own, with a
 * capped backoff.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { REDIS_COMMAND_TIMEOUT_MS, REDIS_CONNECT_TIMEOUT_MS, REDIS_RECONNECT_CAP_MS } from '../limits.ts';
import { isSentinelUrl, parseSentinelUrl, redactSentinelUrl } from './redis-sentinel-url.ts';
import { StoreError } from './store-error.ts';

export interface RedisConnectionOptions {
  /** Default REDIS_COMMAND_TIMEOUT_MS. */
  readonly commandTimeoutMs?: number;
  /** Default REDIS_CONNECT_TIMEOUT_MS. */
  readonly connectTimeoutMs?: number;
}

/** The ioredis options a `redis://`, `rediss://` or Sentinel URL and our defaults make. */
export function redisOptions(url: string, options: RedisConnectionOptions = {}): RedisOptions {
  const common = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: options.connectTimeoutMs ?? REDIS_CONNECT_TIMEOUT_MS,
    retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 5), REDIS_RECONNECT_CAP_MS),
  } satisfies RedisOptions;
  if (isSentinelUrl(url)) {
    const sentinel = parseSentinelUrl(url);
    if (typeof sentinel === 'string') throw new StoreError('ERR_STORE_UNUSABLE', `Not a Sentinel URL: ${sentinel}.`);
    return {
      sentinels: sentinel.sentinels.map(({ host, port }) => ({ host, port })),
      name: sentinel.name,
      ...(sentinel.username !== undefined ? { username: sentinel.username } : {}),
      ...(sentinel.password !== undefined ? { password: sentinel.password } : {}),
      ...(sentinel.db !== undefined ? { db: sentinel.db } : {}),
      ...(sentinel.tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
      sentinelRetryStrategy: common.retryStrategy,
      ...common,
    };
  }
  const parsed = new URL(url);
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new StoreError('ERR_STORE_UNUSABLE', `Not a Redis URL: ${parsed.protocol} (use redis://host:port or rediss://host:port).`);
  }
  const db = parsed.pathname.replace(/^\//, '');
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    ...(parsed.username !== '' ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password !== '' ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db !== '' ? { db: Number(db) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: { servername: parsed.hostname } } : {}),
    ...common,
  };
}

/** The URL without its password, for logs and error messages. */
export function redactRedisUrl(url: string): string {
  if (isSentinelUrl(url)) return redactSentinelUrl(url);
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}

/** A shared command connection and the means to make subscriber connections, to one Redis. */
export class RedisConnection {
  readonly url: string;
  readonly client: Redis;
  readonly #options: RedisOptions;
  readonly #connectTimeoutMs: number;
  readonly #subscribers = new Set<Redis>();
  #ready: Promise<void> | undefined;
  #lastError: Error | undefined;
  #everUp = false;
  #closed = false;

  /**
   * Starts connecting at once and returns without waiting, so that a
   * gateway can be built synchronously; `ready()` says when (or whether) it is up.
   */
  constructor(url: string, options: RedisConnectionOptions = {}) {
    this.url = url;
    this.#options = redisOptions(url, options);
    this.#connectTimeoutMs = options.connectTimeoutMs ?? REDIS_CONNECT_TIMEOUT_MS;
    this.client = new Redis(this.#options);
    // ioredis reports every failed reconnection as an 'error' event; without a listener Node would treat it as fatal.
    this.client.on('error', (error: Error) => (this.#lastError = error));
    this.client.once('ready', () => (this.#everUp = true));
    // A first attempt that fails is retried by the retry strategy; ready() reports it.
    this.client.connect().catch(() => undefined);
  }

  /** Opens a connection and waits until Redis answers (see ready()). */
  static async open(url: string, options: RedisConnectionOptions = {}): Promise<RedisConnection> {
    const connection = new RedisConnection(url, options);
    try {
      await connection.ready();
    } catch (error) {
      await connection.close();
      throw error;
    }
    return connection;
  }

  /**
   * Resolves once Redis answers PING. Rejects with ERR_STORE_UNUSABLE, naming
   * the redacted URL and the last error, when it has not within the connect
   * timeout (the connection keeps retrying in the background).
   */
  ready(): Promise<void> {
    this.#ready ??= this.#waitReady();
    return this.#ready;
  }

  async #waitReady(): Promise<void> {
    const deadline = Date.now() + this.#connectTimeoutMs;
    for (;;) {
      if (this.#closed) throw new StoreError('ERR_STORE_CLOSED', 'The Redis connection is closed.');
      if (this.client.status === 'ready') {
        try {
          await this.client.ping();
          return;
        } catch (error) {
          this.#lastError = error as Error;
        }
      }
      if (Date.now() >= deadline) {
        this.#ready = undefined;
        const cause = this.#lastError?.message ?? `no answer within ${this.#connectTimeoutMs} ms`;
        throw new StoreError('ERR_STORE_UNUSABLE', `Redis at ${redactRedisUrl(this.url)} cannot be reached (${cause}).`, { cause: this.#lastError });
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /**
   * Resolves at once once the connection has been up; before that, waits as
   * ready() does. For parts that may be called while the process starts: at
   * start a store not up yet is waited for, later an unreachable one fails fast.
   */
  async started(): Promise<void> {
    if (!this.#everUp) await this.ready();
  }

  /** True while the command connection is up. */
  get up(): boolean {
    return this.client.status === 'ready';
  }

  /** A new connection for SUBSCRIBE; closed with this one. It connects on first subscribe and resubscribes by itself after a drop. */
  subscriber(): Redis {
    if (this.#closed) throw new StoreError('ERR_STORE_CLOSED', 'The Redis connection is closed.');
    const subscriber = new Redis({ ...this.#options, lazyConnect: false, enableOfflineQueue: true, autoResubscribe: true, commandTimeout: undefined });
    subscriber.on('error', () => undefined);
    this.#subscribers.add(subscriber);
    return subscriber;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const subscriber of this.#subscribers) subscriber.disconnect();
    this.#subscribers.clear();
    // QUIT lets commands in flight finish; when Redis is down it would wait, so disconnect instead.
    if (this.up) await this.client.quit().catch(() => undefined);
    this.client.disconnect();
  }
}
