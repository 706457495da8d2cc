import { dirname } from 'node:path';
import { parseStoreUrl } from '../config/store-schema.ts';
import { GatehouseConfigError } from '../errors/index.ts';
import { StoreError } from '../store/store-error.ts';
import { MemorySessionStore, type MemorySessionStoreOptions, type SessionStore } from './session-store.ts';
import { SqliteSessionStore } from './sqlite-session-store.ts';

/** A session store the gateway built, and how to let go of it on close. */
export interface OpenedSessionStore {
  readonly store: SessionStore;
  /** True when everything in it is lost on restart (memory:). */
  readonly volatile: boolean;
  close(): void;
}

/** Opens the session store a validated `store.url` names (relative paths already resolved by the config parser). */
export function openSessionStore(url: string, options: MemorySessionStoreOptions): OpenedSessionStore {
  const location = parseStoreUrl(url);
  if (typeof location === 'string') throw new GatehouseConfigError([`store.url: ${location}`]);
  if (location.kind === 'memory') return { store: new MemorySessionStore(options), volatile: true, close: () => undefined };
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
  return { store, volatile: false, close: () => store.close() };
}
