/**
 * The risk a gateway judges with: the built-in signals (when `risk.enabled`),
 * on state kept where the store is, and the embedder's own provider, made
 * safe and combined (the higher level wins). Failures of either are logged
 * and audited, and judged as their settings say.
 */
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../clock.ts';
import type { GatewayConfig } from '../config/parse.ts';
import type { Logger } from '../logging/logger.ts';
import type { RiskProvider } from '../policy/types.ts';
import type { RedisConnection } from '../store/redis-connection.ts';
import { createBuiltInRisk, type BuiltInRisk } from './built-in-risk.ts';
import { combineRisk } from './combine-risk.ts';
import { openRiskState } from './open-risk-state.ts';
import { safeRiskProvider } from './safe-risk-provider.ts';

export interface GatewayRisk {
  /** What conditional access asks; absent when neither source is on. */
  readonly risk: RiskProvider | undefined;
  /** The built-in signals, told every sign-in's outcome. */
  readonly builtIn: BuiltInRisk | undefined;
  close(): void;
}

export interface GatewayRiskParts {
  readonly config: Pick<GatewayConfig, 'risk' | 'store'>;
  readonly custom: RiskProvider | undefined;
  readonly redis: RedisConnection | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly audit: AuditLog;
}

export function createGatewayRisk({ config, custom, redis, clock, logger, audit }: GatewayRiskParts): GatewayRisk {
  // Risk counts live where the store does: kept across restarts on SQLite, shared by every instance on Redis.
  const state = config.risk.enabled ? openRiskState(config.store.url, config.risk.memory, redis) : undefined;
  const builtIn = state
    ? createBuiltInRisk({
        settings: config.risk,
        clock,
        state: state.state,
        onStateError: (error) => {
          logger.warn({ err: error }, 'risk state unreachable: sign-ins are judged high risk until it answers again');
          audit.emit({ type: 'risk.provider_failed', outcome: 'failure', reason: 'error', details: { provider: 'built-in', onError: 'high' } });
        },
      })
    : undefined;
  const safe = custom
    ? safeRiskProvider(custom, {
        ...config.risk.customProvider,
        onFailure: (failure) =>
          audit.emit({ type: 'risk.provider_failed', outcome: 'failure', reason: failure.reason, details: { onError: config.risk.customProvider.onError } }),
      })
    : undefined;
  const providers = [builtIn?.provider, safe].filter((provider): provider is RiskProvider => provider !== undefined);
  return {
    risk: providers.length > 0 ? combineRisk(...providers) : undefined,
    builtIn,
    close: () => state?.close(),
  };
}
