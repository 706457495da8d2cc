/**
 * Broadcast over Redis pub/sub. One subscriber connection per process;
 * channels are prefixed so several deployments can share one Redis. When the
 * subscriber connection drops and comes back, ioredis subscribes again, and
 * once Redis confirmed the subscriptions, every onResync handler runs:
 * messages published meanwhile are gone. On a Cluster, a subscriber whose
 * node stays down ends; a new one, to another node, takes its channels, and
 * its first 'ready' is a resync too.
 */
import { Cluster, type Redis } from 'ioredis';
import type { Broadcast } from './broadcast.ts';
import type { RedisConnection } from './redis-connection.ts';

export class RedisBroadcast implements Broadcast {
  readonly #connection: RedisConnection;
  readonly #prefix: string;
  #subscriber: Redis;
  #closed = false;
  readonly #handlers = new Map<string, Set<(message: string) => void>>();
  readonly #resync = new Set<() => void>();
  #wasReady = false;
  #lost = false;

  constructor(connection: RedisConnection, prefix = 'gatehouse:') {
    this.#connection = connection;
    this.#prefix = prefix;
    this.#subscriber = this.#attach(connection.subscriber());
  }

  #attach(subscriber: Redis): Redis {
    subscriber.on('message', (channel: string, message: string) => {
      if (subscriber !== this.#subscriber || !channel.startsWith(this.#prefix)) return;
      for (const handler of [...(this.#handlers.get(channel.slice(this.#prefix.length)) ?? [])]) handler(message);
    });
    subscriber.on('close', () => {
      if (this.#wasReady) this.#lost = true;
    });
    subscriber.on('ready', () => {
      this.#wasReady = true;
      if (this.#lost) void this.#resubscribeThenResync(subscriber);
    });
    subscriber.once('end', () => {
      if (this.#closed || subscriber !== this.#subscriber) return;
      // Its first 'ready' subscribes to every channel and resyncs, as a reconnection does.
      this.#subscriber = this.#attach(this.#connection.subscriber());
    });
    return subscriber;
  }

  /**
   * After the subscription was lost: subscribed again first, confirmed by Redis, and only then the resync handlers
   * and `live`. A resync that read before the subscription was back would miss what was published in between, and
   * would count as exact. A subscribe that fails means the connection dropped again: its next 'ready' tries again.
   */
  async #resubscribeThenResync(subscriber: Redis): Promise<void> {
    const channels = [...this.#handlers.keys()].map((channel) => this.#prefix + channel);
    try {
      if (channels.length > 0) await subscriber.subscribe(...channels);
    } catch {
      return;
    }
    if (subscriber !== this.#subscriber || this.#closed || !this.#lost) return;
    this.#lost = false;
    for (const handler of [...this.#resync]) handler();
  }

  get live(): boolean {
    return this.#subscriber.status === 'ready' && !this.#lost;
  }

  /** Resolves once the subscriber connection is up and subscribed to every channel asked for so far. */
  async ready(): Promise<void> {
    const channels = [...this.#handlers.keys()].map((channel) => this.#prefix + channel);
    if (channels.length > 0) await this.#subscriber.subscribe(...channels);
    else if (this.#subscriber.status !== 'ready') await new Promise((resolve) => this.#subscriber.once('ready', resolve));
  }

  async publish(channel: string, message: string): Promise<void> {
    const client = this.#connection.client;
    try {
      await client.publish(this.#prefix + channel, message);
    } catch (error) {
      // On a Cluster a PUBLISH goes to any node, and the cluster bus relays it: one that just died fails it, the next try goes to another.
      if (!(client instanceof Cluster)) throw error;
      await client.publish(this.#prefix + channel, message);
    }
  }

  subscribe(channel: string, handler: (message: string) => void): () => void {
    let set = this.#handlers.get(channel);
    if (!set) {
      set = new Set();
      this.#handlers.set(channel, set);
      // Failures while Redis is down are retried by ioredis's resubscription; the resync handlers cover the gap.
      this.#subscriber.subscribe(this.#prefix + channel).catch(() => undefined);
    }
    set.add(handler);
    const handlers = set;
    return () => {
      handlers.delete(handler);
      if (handlers.size === 0 && this.#handlers.get(channel) === handlers) {
        this.#handlers.delete(channel);
        this.#subscriber.unsubscribe(this.#prefix + channel).catch(() => undefined);
      }
    };
  }

  onResync(handler: () => void): () => void {
    this.#resync.add(handler);
    return () => this.#resync.delete(handler);
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#handlers.clear();
    this.#resync.clear();
    this.#subscriber.disconnect();
    return Promise.resolve();
  }
}
