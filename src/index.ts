/**
 * `gatehouse`: the cloud side, mounted on your Express app.
 *
 * `createGateway()` builds every step of the request path from one validated
 * configuration and hands back one handler to mount; the steps are not
 * exported one by one, because each needs the others' state (sealing keys,
 * the app table, the audit log). What else is here is what that one call
 * takes and gives: the configuration, the errors it throws and the audit
 * sinks it writes to. The exact list is pinned by
 * test/unit/structure/public-api.test.ts.
 */

// The gateway, mounted on your app or on a server of its own.
export { createGateway } from './gateway/create-gateway.ts';
export type { Gateway, GatewayOptions } from './gateway/create-gateway.ts';
export { createGatewayServer } from './gateway/standalone-server.ts';
export type { GatewayServer, GatewayServerOptions } from './gateway/standalone-server.ts';
export { shutdown } from './gateway/shutdown.ts';
export type { ShutdownOptions, ShutdownReport } from './gateway/shutdown.ts';
export { createAdminListener } from './admin/admin-listener.ts';
export { scrapeMetrics } from './metrics/registry.ts';
export type { MetricsPrefix } from './metrics/registry.ts';
export type { AdminListener, AdminListenerOptions, AdminRoute, AdminSource } from './admin/admin-listener.ts';
export type { HealthCheck, Readiness } from './health/readiness.ts';
export { reloadHandler } from './gateway/reload-handler.ts';
export type { ReloadActor, ReloadInput, ReloadResult } from './gateway/reload.ts';

// Its configuration: validated once, from an object or a YAML/JSON file.
export { parseGatewayConfig } from './config/parse.ts';
export type { GatewayConfig, AppConfig } from './config/parse.ts';
export { loadGatewayConfigFile } from './config/load-file.ts';
export type { GatewayConfigInput } from './config/schema.ts';

// What it throws, and the codes its error pages and audit events carry.
export { GatehouseError, GatehouseConfigError } from './errors/index.ts';
export type { GatehouseErrorCode, GatehouseStep } from './errors/index.ts';

// Where its audit events go (`GatewayOptions.audit`).
export { jsonLinesSink, memorySink } from './audit/audit-log.ts';
export type { AuditLog, MemorySink } from './audit/audit-log.ts';
export { fileSink } from './audit/file-sink.ts';
export type { FileSink, FileSinkOptions } from './audit/file-sink.ts';
export { webhookSink } from './audit/webhook-sink.ts';
export type { WebhookSink } from './audit/webhook-sink.ts';
export type { WebhookSinkOptions } from './audit/webhook-options.ts';
export type { AuditEvent, AuditEventType, AuditOutcome, AuditSink, AuditUser } from './audit/events.ts';

// What it can be given in place of its defaults.
export type { RiskLevel, RiskProvider } from './policy/types.ts';
export type { SessionStore, SessionSideData } from './session/session-store.ts';
export type { Clock } from './clock.ts';
export type { WebSocketLeaseOptions } from './edge/websocket-caps-redis.ts';
