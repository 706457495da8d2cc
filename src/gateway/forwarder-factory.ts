import type { AuditLog } from '../audit/audit-log.ts';
import type { GatewayConfig } from '../config/parse.ts';
import { createDirectForwarder, type Forwarder } from '../forwarding/direct-forwarder.ts';
import type { ForwardingRules } from '../forwarding/upstream-request.ts';
import type { Logger } from '../logging/logger.ts';
import { createTunnelDispatcher } from '../tunnel/dispatcher.ts';
import type { TunnelPool } from '../tunnel/tunnel-pool.ts';

/** What a forwarder factory (`GatewayOptions.forwarder`) is given. */
export interface ForwarderFactoryContext {
  readonly config: GatewayConfig;
  /** What the forwarding step removes from every request: give it to createDirectForwarder or your own forwarder. */
  readonly rules: ForwardingRules;
  readonly audit: AuditLog;
  readonly logger: Logger;
  /** The connectors' live tunnels, when `connectors` is configured. */
  readonly tunnels: TunnelPool | undefined;
}

/**
 * The forwarding step when none is given: through the connectors' tunnels when there are any, else straight to each app.
 * `onTunnelResponseHead` times the tunnel part of each request (the gateway's metrics).
 */
export function defaultForwarder(
  { config, rules, audit, logger, tunnels }: ForwarderFactoryContext,
  onTunnelResponseHead?: (appId: string, seconds: number) => void,
): Forwarder {
  return tunnels
    ? createTunnelDispatcher({
        apps: config.apps,
        pool: tunnels,
        rules,
        audit,
        logger,
        appShare: config.limits.streams.appShare,
        ...(onTunnelResponseHead ? { onResponseHead: onTunnelResponseHead } : {}),
      })
    : createDirectForwarder({ apps: config.apps, rules, audit, logger });
}
