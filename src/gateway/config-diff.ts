/**
 * What a reload would change, key by key, and which of those changes a
 * running gateway cannot take without a restart. Compared on parsed
 * configurations, so the content of every `…File` counts: a rotated
 * certificate or secret file is a change even when the file name is not.
 */
import { isDeepStrictEqual } from 'node:util';
import type { AppConfig, GatewayConfig } from '../config/parse.ts';

/**
 * Keys whose value is built into a part that lives as long as the process:
 * - `identityProvider`: the OIDC client holds the discovered metadata, its keys and HTTP client, and the settings every authorization request
 *   is built from (`scopes`, `authorizationParams`); sessions carry ID tokens of that issuer.
 * - `session`: the sealing keys are derived once, and a new cookie name or secret list would sign everyone out.
 * - `store`: every stateful part shares the one connection or database file opened at start.
 * - `connectors`: the listener, its certificate, the CA and the registry are opened once, on that port and state.
 * - `identityAssertion`: the signing key ring is loaded once.
 * - `risk`, `audit`: their state and sinks are opened once.
 * - `admin`: the admin listener is opened once, on that address and certificate.
 * - `logging.level`, `logging.format`: the logger is made once, before the gateway (the access log is rebuilt: it is reloadable).
 * - `server.host`, `server.port`, `server.headersTimeout`, `server.keepAliveTimeout`: set on the sockets and the server when it started.
 */
const RESTART_ONLY: readonly (keyof GatewayConfig)[] = ['identityProvider', 'session', 'store', 'connectors', 'identityAssertion', 'risk', 'audit', 'admin'];
const RESTART_ONLY_LOGGING = ['level', 'format'] as const;
const RESTART_ONLY_SERVER = ['host', 'port', 'headersTimeout', 'keepAliveTimeout'] as const;

/** Keys a reload applies to new requests (and `logging.accessLog`, `server.tls`). `server.shutdownTimeout` is read when a shutdown starts. */
const RELOADABLE: readonly (keyof GatewayConfig)[] = ['trustedProxies', 'forwarding', 'namedLocations', 'mfa'];

/**
 * Parts of `limits` a reload applies to new requests: `limits.rate` (the buckets and what each address used stay), `limits.streams` (the WebSockets and
 * streams open stay counted), `limits.body` (bodies already arriving keep the bounds they started with), `limits.connections` (to new connections; those
 * open stay counted). Any other part of `limits` needs a restart.
 */
const RELOADABLE_LIMITS: readonly string[] = ['rate', 'streams', 'body', 'connections'];

/** Every top-level key, as this file sorts it: a key added to the configuration and not sorted here fails a test. */
export const SORTED_KEYS: readonly string[] = [...RESTART_ONLY, ...RELOADABLE, 'apps', 'server', 'logging', 'limits'];

/** What differs between two configurations that a reload applies: `apps[id] added|removed|changed`, then other keys by path. */
export function reloadableChanges(before: GatewayConfig, after: GatewayConfig): string[] {
  const changed = appChanges(before.apps, after.apps);
  for (const key of RELOADABLE) if (!isDeepStrictEqual(before[key], after[key])) changed.push(key);
  if (!isDeepStrictEqual(before.logging.accessLog, after.logging.accessLog)) changed.push('logging.accessLog');
  if (!isDeepStrictEqual(before.server.tls, after.server.tls)) changed.push('server.tls');
  if (before.server.shutdownTimeout !== after.server.shutdownTimeout) changed.push('server.shutdownTimeout');
  for (const key of RELOADABLE_LIMITS) if (!isDeepStrictEqual(limitsPart(before, key), limitsPart(after, key))) changed.push(`limits.${key}`);
  return changed;
}

/** Keys that differ and need a restart, by path (one level below the top, e.g. `store.url`, `session.secrets`). */
export function restartOnlyChanges(before: GatewayConfig, after: GatewayConfig): string[] {
  const changed: string[] = [];
  for (const key of RESTART_ONLY) changed.push(...differingPaths(key, before[key], after[key]));
  for (const key of RESTART_ONLY_SERVER) if (!isDeepStrictEqual(before.server[key], after.server[key])) changed.push(`server.${key}`);
  for (const key of RESTART_ONLY_LOGGING) if (before.logging[key] !== after.logging[key]) changed.push(`logging.${key}`);
  changed.push(...differingPaths('limits', restartOnlyLimits(before), restartOnlyLimits(after)));
  // Plain HTTP and HTTPS are different kinds of server: certificates rotate, the scheme does not.
  if ((before.server.tls === undefined) !== (after.server.tls === undefined)) changed.push('server.tls');
  return changed;
}

function appChanges(before: readonly AppConfig[], after: readonly AppConfig[]): string[] {
  const old = new Map(before.map((app) => [app.id, app]));
  const now = new Map(after.map((app) => [app.id, app]));
  const changed: string[] = [];
  for (const [id, app] of now) {
    const previous = old.get(id);
    if (!previous) changed.push(`apps[${id}] added`);
    else if (!isDeepStrictEqual(previous, app)) changed.push(`apps[${id}] changed`);
  }
  for (const id of old.keys()) if (!now.has(id)) changed.push(`apps[${id}] removed`);
  return changed;
}

function differingPaths(key: string, before: unknown, after: unknown): string[] {
  if (isDeepStrictEqual(before, after)) return [];
  if (!isPlainObject(before) || !isPlainObject(after)) return [key];
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names].filter((name) => !isDeepStrictEqual(before[name], after[name])).map((name) => `${key}.${name}`);
}

function limitsPart(config: GatewayConfig, key: string): unknown {
  return (config.limits as Readonly<Record<string, unknown>>)[key];
}

function restartOnlyLimits(config: GatewayConfig): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config.limits).filter(([key]) => !RELOADABLE_LIMITS.includes(key)));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
