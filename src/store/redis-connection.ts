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
import { Cluster, type Redis } from 'ioredis';
import { REDIS_CONNECT_TIMEOUT_MS } from '../limits.ts';
import { clusterOptions, createRedisClient, createSubscriber, redactRedisUrl, type RedisClient, type RedisConnectionOptions } from './redis-client-options.ts';
import type { HostPort } from './redis-host-list.ts';
import { StoreError } from './store-error.ts';

export { redactRedisUrl, redisOptions, type RedisClient, type RedisConnectionOptions } from './redis-client-options.ts';

/** A shared command connection and the means to make subscriber connections, to one Redis. */
export class RedisConnection {
  readonly url: string;
  readonly client: RedisClient;
  readonly #options: RedisConnectionOptions;
  readonly #connectTimeoutMs: number;
  #subscriberTurn = 0;
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
    this.#options = options;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? REDIS_CONNECT_TIMEOUT_MS;
    this.client = createRedisClient(url, options);
    // ioredis reports every failed reconnection as an 'error' event; without a listener Node would treat it as fatal.
    this.client.on('error', (error: Error) => (this.#lastError = error));
    if (this.client instanceof Cluster) this.client.on('node error', (error: Error) => (this.#lastError = error));
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

  /**
   * A new connection for SUBSCRIBE; closed with this one. It connects at once
   * and resubscribes by itself after a drop. On a Cluster it goes to one node,
   * a different one at each call, and ends ('end') when that node stays
   * unreachable: call again for another.
   */
  subscriber(): Redis {
    if (this.#closed) throw new StoreError('ERR_STORE_CLOSED', 'The Redis connection is closed.');
    const subscriber = createSubscriber(this.url, this.#options, this.#clusterNode());
    subscriber.on('error', () => undefined);
    this.#subscribers.add(subscriber);
    subscriber.once('end', () => this.#subscribers.delete(subscriber));
    return subscriber;
  }

  /** The next Cluster node for a subscriber, from the nodes the cluster reports, else the URL's seeds. */
  #clusterNode(): HostPort | undefined {
    if (!(this.client instanceof Cluster)) return undefined;
    const known = this.client.nodes('all').flatMap(({ options: { host, port } }) => (host !== undefined && port !== undefined ? [{ host, port }] : []));
    const nodes = known.length > 0 ? known : clusterOptions(this.url).nodes;
    return nodes[this.#subscriberTurn++ % nodes.length];
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
