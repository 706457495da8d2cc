import { performance } from 'node:perf_hooks';
import type { SessionStore } from '../session/session-store.ts';
import type { GatewayMetrics } from './gateway-metrics.ts';

/** The label of each SessionStore method. */
const OPERATIONS = {
  revoke: 'revoke',
  isRevoked: 'is_revoked',
  // The same check, for several keys at once.
  isAnyRevoked: 'is_revoked',
  consumeState: 'consume_state',
  putSideData: 'put_side_data',
  getSideData: 'get_side_data',
} as const satisfies Record<keyof SessionStore, string>;

/** The label of failures the store reports itself and retries later (a Redis write that did not answer). */
export const BACKGROUND_OPERATION = 'background';

/**
 * The session store, timed: every call the gateway makes goes through this one seam (the session manager, the
 * sign-in callback), so each operation's latency and failures are measured whatever the store is (memory, SQLite,
 * Redis), without touching any of them.
 */
export function instrumentSessionStore(store: SessionStore, metrics: GatewayMetrics): SessionStore {
  const { storeSeconds, storeErrors } = metrics;
  const timed = <T>(method: keyof SessionStore, call: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    const operation = OPERATIONS[method];
    return call().then(
      (value) => {
        storeSeconds.observe(operation, (performance.now() - start) / 1000);
        return value;
      },
      (error: unknown) => {
        storeSeconds.observe(operation, (performance.now() - start) / 1000);
        storeErrors.inc(operation);
        throw error;
      },
    );
  };
  const isAnyRevoked = store.isAnyRevoked?.bind(store);
  return {
    ...(isAnyRevoked ? { isAnyRevoked: (...args: Parameters<typeof isAnyRevoked>) => timed('isAnyRevoked', () => isAnyRevoked(...args)) } : {}),
    revoke: (...args) => timed('revoke', () => store.revoke(...args)),
    isRevoked: (...args) => timed('isRevoked', () => store.isRevoked(...args)),
    consumeState: (...args) => timed('consumeState', () => store.consumeState(...args)),
    putSideData: (...args) => timed('putSideData', () => store.putSideData(...args)),
    getSideData: (...args) => timed('getSideData', () => store.getSideData(...args)),
  };
}
