/**
 * How each kind of Redis URL becomes an ioredis client: one server
 * (`redis://`, `rediss://`), a master found through Sentinel
 * (`redis+sentinel://`), or a Cluster (`redis+cluster://`). Whatever the
 * kind, commands fail fast while Redis is unreachable (no offline queue, a
 * command timeout) and reconnection backs off to a cap.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { REDIS_COMMAND_TIMEOUT_MS, REDIS_CONNECT_TIMEOUT_MS, REDIS_RECONNECT_CAP_MS } from '../limits.ts';
import { isClusterUrl, parseClusterUrl, redactClusterUrl } from './redis-cluster-url.ts';
import type { HostPort } from './redis-host-list.ts';
import { isSentinelUrl, parseSentinelUrl, redactSentinelUrl } from './redis-sentinel-url.ts';
import { StoreError } from './store-error.ts';

export interface RedisConnectionOptions {
  /** Default REDIS_COMMAND_TIMEOUT_MS. */
  readonly commandTimeoutMs?: number;
  /** Default REDIS_CONNECT_TIMEOUT_MS. */
  readonly connectTimeoutMs?: number;
}

/** The command client: one server (direct or through Sentinel), or a Cluster. */
export type RedisClient = Redis | Cluster;

const backoff = (times: number): number => Math.min(100 * 2 ** Math.min(times, 5), REDIS_RECONNECT_CAP_MS);

function common(options: RedisConnectionOptions) {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: options.connectTimeoutMs ?? REDIS_CONNECT_TIMEOUT_MS,
    retryStrategy: backoff,
  } satisfies RedisOptions;
}

/** The ioredis options a `redis://`, `rediss://` or Sentinel URL and our defaults make. */
export function redisOptions(url: string, options: RedisConnectionOptions = {}): RedisOptions {
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
      sentinelRetryStrategy: backoff,
      ...common(options),
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
    ...common(options),
  };
}

/** The seed nodes and ioredis Cluster options a `redis+cluster://` URL and our defaults make. */
export function clusterOptions(url: string, options: RedisConnectionOptions = {}): { nodes: HostPort[]; options: ClusterOptions } {
  const cluster = parseClusterUrl(url);
  if (typeof cluster === 'string') throw new StoreError('ERR_STORE_UNUSABLE', `Not a Redis Cluster URL: ${cluster}.`);
  const { lazyConnect, enableOfflineQueue, retryStrategy, ...node } = common(options);
  return {
    nodes: [...cluster.nodes],
    options: {
      lazyConnect,
      enableOfflineQueue,
      clusterRetryStrategy: retryStrategy,
      // A moved slot or a failover is retried a bounded number of times, then fails like any other command.
      maxRedirections: 8,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      redisOptions: {
        ...node,
        ...(cluster.username !== undefined ? { username: cluster.username } : {}),
        ...(cluster.password !== undefined ? { password: cluster.password } : {}),
        ...(cluster.tls ? { tls: {} } : {}),
      },
    },
  };
}

/** A command client for any kind of Redis URL. It connects when asked (`connect()`). */
export function createRedisClient(url: string, options: RedisConnectionOptions = {}): RedisClient {
  if (isClusterUrl(url)) {
    const cluster = clusterOptions(url, options);
    return new Cluster(cluster.nodes, cluster.options);
  }
  return new Redis(redisOptions(url, options));
}

/**
 * A connection for SUBSCRIBE. On one server it reconnects and resubscribes by
 * itself. On a Cluster any node hears every PUBLISH (the cluster bus relays
 * it), so it is a plain connection to one node, `node`, that gives up
 * ('end') after a few failed attempts: whoever holds it then asks for
 * another, to another node, and knows that messages were missed meanwhile.
 */
export function createSubscriber(url: string, options: RedisConnectionOptions, node?: HostPort): Redis {
  const subscriber = { lazyConnect: false, enableOfflineQueue: true, autoResubscribe: true, commandTimeout: undefined, connectionName: 'gatehouse-subscriber' };
  if (!isClusterUrl(url)) return new Redis({ ...redisOptions(url, options), ...subscriber });
  const { redisOptions: nodeOptions } = clusterOptions(url, options).options;
  return new Redis({
    ...nodeOptions,
    ...subscriber,
    ...node,
    retryStrategy: (times: number) => (times > SUBSCRIBER_NODE_ATTEMPTS ? null : backoff(times)),
  });
}

/** Attempts at one Cluster node before the subscriber moves to another. */
const SUBSCRIBER_NODE_ATTEMPTS = 3;

/** The URL without its password, for logs and error messages. */
export function redactRedisUrl(url: string): string {
  if (isSentinelUrl(url)) return redactSentinelUrl(url);
  if (isClusterUrl(url)) return redactClusterUrl(url);
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}
