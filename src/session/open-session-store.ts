import { dirname } from 'node:path';
import { parseStoreUrl } from '../config/store-schema.ts';
import { GatehouseConfigError } from '../errors/index.ts';
import { MemoryBroadcast, type Broadcast } from '../store/broadcast.ts';
import { RedisBroadcast } from '../store/redis-broadcast.ts';
import { RedisConnection } from '../store/redis-connection.ts';
import { StoreError } from '../store/store-error.ts';
import { RedisSessionStore, type RedisSessionStoreOptions } from './redis-session-store.ts';
import { MemorySessionStore, type MemorySessionStoreOptions, type SessionStore } from './session-store.ts';
import { SqliteSessionStore } from './sqlite-session-store.ts';

/**
 * A session store the gateway built, and how to let go of it on close. With
 * Redis it also carries the gateway's one connection and broadcast, for the
 * other parts that keep state there (connector plane, audit outbox, risk).
 */
export interface OpenedSessionStore {
  readonly store: SessionStore;
  /** True when everything in it is lost on restart (memory:). */
  readonly volatile: boolean;
  /** The gateway's Redis connection, when store.url names Redis. */
  readonly redis?: RedisConnection;
  /** Between this gateway's instances: Redis pub/sub with Redis, else this process only. */
  readonly broadcast: Broadcast;
  /** Resolves once the store answers; rejects with ERR_STORE_UNUSABLE when it cannot be reached. */
  ready(): Promise<void>;
  /** Called for each session revoked, through this instance or (with Redis) another one. */
  onRevoked(listener: (sessionId: string) => void): () => void;
  close(): Promise<void>;
}

export type OpenSessionStoreOptions = MemorySessionStoreOptions & Pick<RedisSessionStoreOptions, 'onStoreError'>;

/** Opens the session store a validated `store.url` names (relative paths already resolved by the config parser). */
export function openSessionStore(url: string, options: OpenSessionStoreOptions): OpenedSessionStore {
  const location = parseStoreUrl(url);
  if (typeof location === 'string') throw new GatehouseConfigError([`store.url: ${location}`]);
  if (location.kind === 'redis') return openRedis(location.url, options);
  const broadcast = new MemoryBroadcast();
  const local = { broadcast, ready: () => Promise.resolve(), onRevoked: () => () => undefined };
  if (location.kind === 'memory') {
    return { ...local, store: new MemorySessionStore(options), volatile: true, close: () => broadcast.close() };
  }
  let store: SqliteSessionStore;
  try {
    store = SqliteSessionStore.open(location.path, options);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new StoreError(
      'ERR_STORE_UNUSABLE',
      `The state directory ${dirname(location.path)} cannot be used for the state database ${location.path} (${reason}): it must be a directory this process can create and own.`,
      { cause: error },
    );
  }
  return {
    ...local,
    store,
    volatile: false,
    close: async () => {
      store.close();
      await broadcast.close();
    },
  };
}

/** Connects in the background, so that a gateway can be built synchronously; `ready()` waits for Redis and the first load. */
function openRedis(url: string, options: OpenSessionStoreOptions): OpenedSessionStore {
  const redis = new RedisConnection(url);
  const broadcast = new RedisBroadcast(redis);
  const store = new RedisSessionStore(redis, broadcast, options);
  let ready: Promise<void> | undefined;
  return {
    store,
    volatile: false,
    redis,
    broadcast,
    ready: () =>
      (ready ??= (async () => {
        await redis.ready();
        await broadcast.ready();
        await store.ready();
      })()),
    onRevoked: (listener) => store.onRevoked(listener),
    close: async () => {
      store.close();
      await broadcast.close();
      await redis.close();
    },
  };
}

/** A store the embedder passed: theirs to close; revocations are announced in this process only. */
export function givenSessionStore(store: SessionStore): OpenedSessionStore {
  const broadcast = new MemoryBroadcast();
  return { store, volatile: false, broadcast, ready: () => Promise.resolve(), onRevoked: () => () => undefined, close: () => broadcast.close() };
}
