import { AuditLog } from '../audit/audit-log.ts';
import { createAuditSinks, type AuditSinks } from '../audit/create-audit-sinks.ts';
import type { AuditSink } from '../audit/events.ts';
import { openRecentEvents } from '../audit/open-recent-events.ts';
import type { RecentEvents } from '../audit/recent-events.ts';
import { RedisOutbox } from '../audit/redis-outbox.ts';
import type { Clock } from '../clock.ts';
import type { GatewayConfig } from '../config/parse.ts';
import { sqliteStatePath } from '../config/store-schema.ts';
import type { Logger } from '../logging/logger.ts';
import type { RedisConnection } from '../store/redis-connection.ts';

export interface GatewayAudit {
  readonly audit: AuditLog;
  /** What the admin API's recent-events query reads. */
  readonly recent: RecentEvents;
  /** The configured sinks, when none were given in code (the file among them reopens after log rotation). */
  readonly configured: AuditSinks | undefined;
}

/**
 * The audit log: sinks given in code replace the configured ones (tests, embedders); the recent-events store is always there.
 * With `redis` (store.url is redis://) the webhook's waiting events are kept there, one outbox per instance.
 */
export function createGatewayAudit(
  config: GatewayConfig,
  given: AuditSink | readonly AuditSink[] | undefined,
  clock: Clock,
  logger: Logger,
  redis?: RedisConnection,
): GatewayAudit {
  let configured: AuditSinks | undefined;
  let sinks: readonly AuditSink[];
  // Where the store is: every instance's events on Redis, kept across restarts in the state database.
  let recent: RecentEvents = openRecentEvents(config.store.url, config.audit.recent.capacity, {
    redis,
    onError: (error) => logger.warn({ err: error }, 'recent audit events: write failed, the event is missing from the admin query'),
  });
  if (given === undefined) {
    const outboxPath = sqliteStatePath(config.store.url);
    configured = createAuditSinks(config.audit, {
      baseDir: config.baseDir,
      // With a state database, the webhook's waiting events are kept in it: a crash while the receiver is down loses none.
      ...(outboxPath === undefined ? {} : { outboxPath }),
      ...(redis === undefined
        ? {}
        : {
            outbox: (capacity: number) =>
              new RedisOutbox(redis, { capacity, onError: (error) => logger.warn({ err: error }, 'audit outbox: Redis write failed, retried') }),
          }),
      recent,
      clock,
      onDrop: (report) => logger.warn({ report }, 'audit events dropped'),
      onWebhookError: (failure) => logger.warn({ failure }, 'audit webhook failed'),
      onFileError: (error) => logger.error({ err: error }, 'audit file failed'),
    });
    sinks = configured.sinks;
    recent = configured.recent;
  } else {
    sinks = [...(Array.isArray(given) ? (given as readonly AuditSink[]) : [given as AuditSink]), recent];
  }
  const audit = new AuditLog(sinks, { clock, onSinkError: (error) => logger.error({ err: error }, 'audit sink failed') });
  recentOf.set(audit, recent);
  return { audit, recent, configured };
}

const recentOf = new WeakMap<AuditLog, RecentEvents>();

/** The recent events a gateway's audit log writes to, what the admin API's query reads: the admin console shows them from there. */
export function recentEventsOf(audit: AuditLog): RecentEvents | undefined {
  return recentOf.get(audit);
}
