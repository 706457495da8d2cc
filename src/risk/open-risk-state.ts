import { parseStoreUrl } from '../config/store-schema.ts';
import type { RedisConnection } from '../store/redis-connection.ts';
import { MemoryRiskState, type RiskStateBounds } from './memory-risk-state.ts';
import { RedisRiskState } from './redis-risk-state.ts';
import type { RiskState } from './risk-state.ts';
import { SqliteRiskState } from './sqlite-risk-state.ts';

export interface OpenedRiskState {
  readonly state: RiskState;
  close(): void;
}

/**
 * The risk state the gateway's store names: Redis when the gateway has a
 * Redis connection (shared by every instance), the state database for
 * `sqlite:` (kept across restarts), else this process's memory.
 */
export function openRiskState(url: string, bounds: RiskStateBounds, redis?: RedisConnection): OpenedRiskState {
  if (redis) return { state: new RedisRiskState(redis), close: () => undefined };
  const location = parseStoreUrl(url);
  if (typeof location !== 'string' && location.kind === 'sqlite') {
    const state = SqliteRiskState.open(location.path, bounds);
    return { state, close: () => state.close() };
  }
  return { state: new MemoryRiskState(bounds), close: () => undefined };
}
