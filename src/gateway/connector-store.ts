/**
 * The store the connector plane keeps its tables in when the gateway opens
 * one for it: the shared Redis, or the state database `store.url` names when
 * that is another file than the one in `connectors.stateDir`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { GatewayConfig } from '../config/parse.ts';
import { sqliteStatePath } from '../config/store-schema.ts';
import type { RedisConnection } from '../store/redis-connection.ts';
import { RedisStore } from '../store/redis-store.ts';
import { openSqliteDatabase, STATE_DATABASE_FILE } from '../store/sqlite-database.ts';
import { SqliteStore } from '../store/sqlite-store.ts';
import type { Store } from '../store/store.ts';

/** The connector plane's store, for the gateway to close; undefined when the connector service opens the one in `connectors.stateDir` itself. */
export function openConnectorStore(config: Pick<GatewayConfig, 'store' | 'connectors'>, redis: RedisConnection | undefined): Store | undefined {
  // With Redis, the connector plane is shared by every instance on it, on the session store's connection.
  if (redis) return new RedisStore(redis);
  // One state file per instance: when store.url names another file than the state directory's, the connector plane keeps its tables there too.
  const statePath = sqliteStatePath(config.store.url);
  const stateDir = config.connectors?.stateDir;
  if (stateDir === undefined || statePath === undefined || statePath === join(stateDir, STATE_DATABASE_FILE)) return undefined;
  return new SqliteStore(openSqliteDatabase(statePath), existsSync(stateDir) ? { importFrom: stateDir } : {}, true);
}
