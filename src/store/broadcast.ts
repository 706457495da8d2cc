/**
 * Publish/subscribe between gateway instances, for invalidations: a session
 * revoked, a connector revoked, a configuration changed. A message is a hint
 * to act now, never the only record: the state itself is in the store, and a
 * listener that may have missed messages (its subscription dropped) is told
 * to resync from there.
 */
export interface Broadcast {
  /** Delivers `message` to every subscriber of `channel` on every instance, this one included. Rejects when the store is unreachable. */
  publish(channel: string, message: string): Promise<void>;
  /** Returns the function that unsubscribes. */
  subscribe(channel: string, handler: (message: string) => void): () => void;
  /**
   * Called each time the subscription came back after a drop: messages sent
   * meanwhile may be lost, so whoever keeps a cache reloads it from the store.
   */
  onResync(handler: () => void): () => void;
  /** False while messages may be missed (the subscription is down). */
  readonly live: boolean;
  close(): Promise<void>;
}

/** One process: delivery in the same process, after the current task, as a remote one would be. */
export class MemoryBroadcast implements Broadcast {
  readonly #handlers = new Map<string, Set<(message: string) => void>>();
  readonly live = true;

  publish(channel: string, message: string): Promise<void> {
    const handlers = [...(this.#handlers.get(channel) ?? [])];
    queueMicrotask(() => {
      for (const handler of handlers) handler(message);
    });
    return Promise.resolve();
  }

  subscribe(channel: string, handler: (message: string) => void): () => void {
    const set = this.#handlers.get(channel) ?? new Set();
    set.add(handler);
    this.#handlers.set(channel, set);
    return () => {
      set.delete(handler);
      if (set.size === 0) this.#handlers.delete(channel);
    };
  }

  onResync(): () => void {
    return () => undefined;
  }

  close(): Promise<void> {
    this.#handlers.clear();
    return Promise.resolve();
  }
}
