/** The readiness checks of a gateway, from the parts `createGateway()` built. */
import type { AppConfig, GatewayConfig } from '../config/parse.ts';
import { parseStoreUrl } from '../config/store-schema.ts';
import type { OpenedSessionStore } from '../session/open-session-store.ts';
import type { TunnelPool } from '../tunnel/tunnel-pool.ts';
import { createReadiness, type Readiness, type StoreProbe } from './readiness.ts';

/** What a gateway tells about its health, besides serving it on `/.gatehouse/readyz`. */
export interface GatewayHealth {
  /** Identity provider discovered, store answering, a connector online for every connector group some app uses. Never rejects; each check is bounded in time. */
  readiness(): Promise<Readiness>;
}

export interface GatewayReadinessParts {
  /** Its `configuration()` is identity provider discovery (done once, retried after a failure). */
  readonly oidc: { configuration(): Promise<unknown> };
  readonly opened: OpenedSessionStore;
  /** Its `store.url` names the kind of store (the URL itself is never shown: it may carry a password). */
  readonly config: Pick<GatewayConfig, 'store'>;
  /** The embedder passed its own session store: its kind is theirs to know. */
  readonly storeGiven: boolean;
  /** The connector plane; absent when apps are reached directly. */
  readonly connectors: { readonly tunnels: TunnelPool } | undefined;
  /** True once `gateway.drain()` was called (a graceful shutdown started). */
  readonly draining: () => boolean;
  /** The apps of the configuration new requests are served with, read at each probe: a reload may publish one in a group no connector serves yet. */
  readonly apps: () => readonly AppConfig[];
}

export function gatewayReadiness(parts: GatewayReadinessParts): () => Promise<Readiness> {
  const { opened, oidc } = parts;
  const tunnels = parts.connectors?.tunnels;
  const location = parseStoreUrl(parts.config.store.url);
  const kind: StoreProbe['kind'] = parts.storeGiven || typeof location === 'string' ? 'custom' : location.kind;
  const redis = opened.redis;
  return createReadiness({
    draining: parts.draining,
    discovery: () => oidc.configuration(),
    store: {
      kind,
      ready: () => opened.ready(),
      ...(redis ? { up: () => redis.up, ping: () => redis.client.ping() } : {}),
    },
    connectors: tunnels && {
      groups: () => parts.apps().map((app) => app.connectorGroup),
      tunnels: (group) => tunnels.sessions(group).filter((session) => session.healthy),
    },
  });
}
