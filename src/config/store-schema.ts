/**
 * Where the gateway keeps its state (`store.url`): revocations, used sign-in
 * states and server-side session data. `sqlite:<path>` is one file on this
 * machine; `redis://…` (or `rediss://…`, TLS) is shared by every gateway
 * instance that names it; `memory:` forgets everything on restart (tests,
 * throwaway runs).
 */
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { isClusterUrl, parseClusterUrl } from '../store/redis-cluster-url.ts';
import { isSentinelUrl, parseSentinelUrl } from '../store/redis-sentinel-url.ts';
import { STATE_DATABASE_FILE } from '../store/sqlite-database.ts';

/** The schemes this version reads, in the order the error message lists them. */
const SUPPORTED =
  '"sqlite:<path>" (e.g. sqlite:/var/lib/gatehouse/gatehouse.db), "redis://host:port" (or "rediss://" for TLS), "redis+sentinel://host:port,host:port/<master>", "redis+cluster://host:port,host:port" or "memory:"';

export type StoreLocation = { readonly kind: 'memory' } | { readonly kind: 'sqlite'; readonly path: string } | { readonly kind: 'redis'; readonly url: string };

/** What a store URL names, or why it is refused. Relative SQLite paths stay relative: see resolveStoreUrl. */
export function parseStoreUrl(url: string): StoreLocation | string {
  if (url === 'memory:') return { kind: 'memory' };
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path === '') return `"sqlite:" needs a file path, e.g. sqlite:/var/lib/gatehouse/${STATE_DATABASE_FILE}`;
    // sqlite://host/… reads like a network URL; a file is what is meant, and a path says it without doubt.
    if (path.startsWith('//')) return `write a SQLite file as sqlite:<path> (sqlite:/var/lib/gatehouse/${STATE_DATABASE_FILE}), not as a URL with "//"`;
    return { kind: 'sqlite', path };
  }
  if (url.startsWith('redis:') || url.startsWith('rediss:')) return parseRedisUrl(url);
  if (isSentinelUrl(url)) {
    const sentinel = parseSentinelUrl(url);
    return typeof sentinel === 'string' ? sentinel : { kind: 'redis', url };
  }
  if (isClusterUrl(url)) {
    const cluster = parseClusterUrl(url);
    return typeof cluster === 'string' ? cluster : { kind: 'redis', url };
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1];
  return `${scheme === undefined ? `"${url}" is not a store URL` : `the "${scheme}:" store is not supported by this version`}: use ${SUPPORTED}`;
}

function parseRedisUrl(url: string): StoreLocation | string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `"${url.replace(/\/\/[^@/]*@/, '//***@')}" is not a valid Redis URL: write it as redis://[user:password@]host[:port][/db]`;
  }
  if (parsed.hostname === '') return 'a Redis URL needs a host: redis://host[:port][/db]';
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) return `the Redis database must be a number (redis://host:port/0), not "${db}"`;
  if (parsed.search !== '' || parsed.hash !== '') return 'a Redis URL takes no query or fragment: redis://[user:password@]host[:port][/db]';
  return { kind: 'redis', url };
}

/** The SQLite file a validated store URL names, or undefined for memory. */
export function sqliteStatePath(url: string): string | undefined {
  const location = parseStoreUrl(url);
  return typeof location !== 'string' && location.kind === 'sqlite' ? location.path : undefined;
}

/** The URL with a relative SQLite path made absolute against `baseDir`. */
export function resolveStoreUrl(url: string, baseDir: string): string {
  const location = parseStoreUrl(url);
  if (typeof location === 'string' || location.kind !== 'sqlite' || isAbsolute(location.path)) return url;
  return `sqlite:${resolve(baseDir, location.path)}`;
}

/** Without `store`: the state database in the connector state folder when there is one, else memory. */
export function defaultStoreUrl(stateDir: string | undefined): string {
  return stateDir === undefined ? 'memory:' : `sqlite:${join(stateDir, STATE_DATABASE_FILE)}`;
}

export const storeSchema = z.strictObject({
  url: z.string().superRefine((url, ctx) => {
    const location = parseStoreUrl(url);
    if (typeof location === 'string') ctx.addIssue({ code: 'custom', message: location });
  }),
});
