/**
 * Whether the gateway can serve users now: the identity provider discovered,
 * the store answering, and a connector online for every connector group some
 * app is published through. Each check says what it found in a short,
 * fixed-vocabulary detail: the answer is served to anyone who can reach a
 * published host, so it carries no URL, address, stack or secret.
 */
/** How long one check may take: a probe that hangs is an answer too (a load balancer gives up after a few seconds). */
export const HEALTH_CHECK_TIMEOUT_MS = 2_000;

/** One check's outcome. */
export interface HealthCheck {
  readonly ok: boolean;
  readonly detail: string;
}

/** What `gateway.readiness()` and `/.gatehouse/readyz` report. */
export interface Readiness {
  readonly status: 'ready' | 'not_ready';
  readonly checks: {
    readonly idp: HealthCheck;
    readonly store: HealthCheck;
    /** By connector group; empty when apps are reached directly (no `connectors` configured). */
    readonly connectors: Readonly<Record<string, HealthCheck>>;
    /** Present once a graceful shutdown started: requests in flight finish, new ones belong elsewhere. */
    readonly shutdown?: HealthCheck;
  };
}

/** The store as the readiness check sees it: its kind, whether it opened, and (Redis) whether it answers now. */
export interface StoreProbe {
  readonly kind: 'sqlite' | 'memory' | 'redis' | 'custom';
  /** Resolves once the store opened (Redis: connected and first load done). */
  ready(): Promise<void>;
  /** Redis: resolves when it answers a PING. */
  ping?(): Promise<unknown>;
  /** Redis: whether the connection is up right now (false while it reconnects). */
  up?(): boolean;
}

/** The connector plane as the readiness check sees it: the live tunnels per group. */
export interface ConnectorProbe {
  /** Groups some app of the current configuration is published through. */
  groups(): readonly string[];
  /** Healthy tunnels (connected, not draining) of a group, with the connector each belongs to. */
  tunnels(group: string): readonly { readonly connectorId: string }[];
}

export interface ReadinessSources {
  /** Identity provider discovery: resolves with the metadata, rejects while it cannot be discovered. */
  readonly discovery: () => Promise<unknown>;
  readonly store: StoreProbe;
  /** Absent: apps are reached directly. */
  readonly connectors?: ConnectorProbe | undefined;
  /** How long one check may take before it counts as failed. Default HEALTH_CHECK_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  /** True once a graceful shutdown started: not ready, so that load balancers stop sending while requests drain. */
  readonly draining?: () => boolean;
}

/** Runs every check (concurrently, each bounded in time) and says whether all passed. */
export function createReadiness(sources: ReadinessSources): () => Promise<Readiness> {
  const timeoutMs = sources.timeoutMs ?? HEALTH_CHECK_TIMEOUT_MS;
  return async () => {
    const [idp, store] = await Promise.all([idpCheck(sources.discovery, timeoutMs), storeCheck(sources.store, timeoutMs)]);
    const connectors = sources.connectors ? connectorChecks(sources.connectors) : {};
    if (sources.draining?.() === true) {
      return { status: 'not_ready', checks: { idp, store, connectors, shutdown: { ok: false, detail: 'shutting down: requests in flight finish' } } };
    }
    const ok = idp.ok && store.ok && Object.values(connectors).every((check) => check.ok);
    return { status: ok ? 'ready' : 'not_ready', checks: { idp, store, connectors } };
  };
}

/** Also starts discovery when none ran yet or the last one failed, so a gateway started before its IdP becomes ready by itself. */
async function idpCheck(discovery: () => Promise<unknown>, timeoutMs: number): Promise<HealthCheck> {
  const outcome = await bounded(discovery(), timeoutMs);
  if (outcome === 'ok') return { ok: true, detail: 'discovered' };
  if (outcome === 'timeout') return { ok: false, detail: 'not discovered: discovery is taking too long' };
  return { ok: false, detail: `not discovered: ${reasonOf(outcome.error)}` };
}

async function storeCheck(store: StoreProbe, timeoutMs: number): Promise<HealthCheck> {
  const opened = await bounded(store.ready(), timeoutMs);
  if (opened === 'timeout') return { ok: false, detail: `${store.kind}: not reachable yet` };
  if (opened !== 'ok') return { ok: false, detail: `${store.kind}: ${reasonOf(opened.error)}` };
  if (store.up && !store.up()) return { ok: false, detail: `${store.kind}: not reachable (reconnecting)` };
  if (store.ping) {
    const answered = await bounded(store.ping(), timeoutMs);
    if (answered === 'timeout') return { ok: false, detail: `${store.kind}: no answer within ${timeoutMs} ms` };
    if (answered !== 'ok') return { ok: false, detail: `${store.kind}: not reachable (${reasonOf(answered.error)})` };
  }
  return { ok: true, detail: `${store.kind}: reachable` };
}

function connectorChecks(connectors: ConnectorProbe): Record<string, HealthCheck> {
  const checks: Record<string, HealthCheck> = {};
  for (const group of [...new Set(connectors.groups())].sort()) {
    const tunnels = connectors.tunnels(group);
    const online = new Set(tunnels.map((tunnel) => tunnel.connectorId)).size;
    checks[group] =
      online === 0
        ? { ok: false, detail: 'no connector online: the apps of this group cannot be reached' }
        : { ok: true, detail: `${online} connector${online === 1 ? '' : 's'} online (${tunnels.length} tunnel${tunnels.length === 1 ? '' : 's'})` };
  }
  return checks;
}

type Bounded = 'ok' | 'timeout' | { readonly error: unknown };

function bounded(promise: Promise<unknown>, timeoutMs: number): Promise<Bounded> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Bounded>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
    timer.unref();
  });
  const settled = promise.then(
    (): Bounded => 'ok',
    (error: unknown): Bounded => ({ error }),
  );
  return Promise.race([settled, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A machine-readable reason (an error code, a reason token), never a message: messages of network and driver
 * errors carry addresses, URLs and sometimes credentials.
 */
function reasonOf(error: unknown): string {
  if (error !== null && typeof error === 'object') {
    const { reason, code } = error as { reason?: unknown; code?: unknown };
    if (typeof reason === 'string' && SAFE_TOKEN.test(reason)) return reason;
    if (typeof code === 'string' && SAFE_TOKEN.test(code)) return code;
  }
  return 'unavailable';
}

const SAFE_TOKEN = /^[A-Za-z0-9_.:-]{1,80}$/;
