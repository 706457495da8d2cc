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
import { StoreError } from './store-error.ts';

export interface RedisConnectionOptions {
  /** Default REDIS_COMMAND_TIMEOUT_MS. */
  readonly commandTimeoutMs?: number;
  /** Default REDIS_CONNECT_TIMEOUT_MS. */
  readonly connectTimeoutMs?: number;
}

/** The ioredis options a `redis://` or `rediss://` URL and our defaults make. */
export function redisOptions(url: string, options: RedisConnectionOptions = {}): RedisOptions {
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
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: options.connectTimeoutMs ?? REDIS_CONNECT_TIMEOUT_MS,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), REDIS_RECONNECT_CAP_MS),
  };
}

/** The URL without its password, for logs and error messages. */
export function redactRedisUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}

/** A shared command connection and the means to make subscriber connections, to one Redis. */
export class RedisConnection {
  readonly url: string;
  readonly client: Redis;
  readonly #options: RedisOptions;
  readonly #subscribers = new Set<Redis>();
  #closed = false;

  private constructor(url: string, options: RedisOptions) {
    this.url = url;
    this.#options = options;
    this.client = new Redis(options);
    // ioredis reports every failed reconnection as an 'error' event; without a listener Node would treat it as fatal.
    this.client.on('error', () => undefined);
  }

  /**
   * Connects and waits until Redis answers. Rejects with ERR_STORE_UNUSABLE,
   * naming the redacted URL and the cause, when it cannot within the connect timeout.
   */
  static async open(url: string, options: RedisConnectionOptions = {}): Promise<RedisConnection> {
    const connection = new RedisConnection(url, redisOptions(url, options));
    try {
      await connection.client.connect();
      await connection.client.ping();
    } catch (error) {
      connection.client.disconnect();
      throw new StoreError('ERR_STORE_UNUSABLE', `Redis at ${redactRedisUrl(url)} cannot be reached (${(error as Error).message}).`, { cause: error });
    }
    return connection;
  }

  /** True while the command connection is up. */
  get ready(): boolean {
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
    if (this.ready) await this.client.quit().catch(() => undefined);
    this.client.disconnect();
  }
}
