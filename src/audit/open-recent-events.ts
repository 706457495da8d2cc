import { sqliteStatePath } from '../config/store-schema.ts';
import type { RedisConnection } from '../store/redis-connection.ts';
import { recentEvents, type RecentEvents } from './recent-events.ts';
import { RedisRecentEvents } from './redis-recent-events.ts';
import { SqliteRecentEvents } from './sqlite-recent-events.ts';

/**
 * The recent-events window the admin query reads, where the gateway's store
 * is: one list in Redis for every instance, the state database for
 * `sqlite:` (kept across restarts), else this process's memory.
 */
export function openRecentEvents(
  storeUrl: string,
  capacity: number,
  options: { readonly redis?: RedisConnection | undefined; readonly onError?: (error: unknown) => void } = {},
): RecentEvents {
  const { redis, onError } = options;
  if (redis) return new RedisRecentEvents(redis, capacity, onError ? { onError } : {});
  const path = sqliteStatePath(storeUrl);
  return path === undefined ? recentEvents(capacity) : new SqliteRecentEvents(path, capacity, onError ? { onError } : {});
}
