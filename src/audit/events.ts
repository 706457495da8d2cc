import type { GatehouseErrorCode } from '../errors/index.ts';

/**
 * Every audit event type Gatehouse emits, as a list so queries can check a
 * type name. Documented, with when each is emitted, in docs/audit-events.md.
 */
export const AUDIT_EVENT_TYPES = [
  'request.rejected',
  'request.rate_limited',
  'request.timed_out',
  'connection.refused',
  'forward.failed',
  'signin.started',
  'signin.succeeded',
  'signin.failed',
  'signin.loop_detected',
  'session.rejected',
  'session.expired',
  'session.revocation_overflow',
  'session.refreshed',
  'session.refresh_failed',
  'logout',
  'session.backchannel_logout',
  'bearer.rejected',
  'gateway.started',
  'connector.registered',
  'connector.renewed',
  'connector.refused',
  'connector.revoked',
  'connector.moved',
  'connector.connected',
  'connector.disconnected',
  'config.changed',
  'config.reloaded',
  'idp.unavailable',
  'policy.decision',
  'access.denied',
  'risk.provider_failed',
  'audit.dropped',
  'audit.suppressed',
  'admin.events_queried',
  'admin.console_signin',
  'admin.console_action',
  'admin.console_refused',
] as const;

/** Every audit event type Gatehouse emits; docs/audit-events.md says when each is emitted. */
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** Whether the audited action succeeded, failed, or is information only. */
export type AuditOutcome = 'success' | 'failure' | 'info';

/** Who an audit event is about, as far as the gateway knows at that point. */
export interface AuditUser {
  readonly sub: string;
  readonly name?: string | undefined;
  readonly email?: string | undefined;
}

/** One audit event, as every sink receives it (the schema is in docs/audit-events.md). */
export interface AuditEvent {
  readonly id: string;
  /** ISO 8601 time the event was recorded. */
  readonly time: string;
  readonly type: AuditEventType;
  readonly outcome: AuditOutcome;
  /** A stable, machine-readable reason, e.g. "tampered", "other_app", "nonce_mismatch". */
  readonly reason?: string | undefined;
  readonly code?: GatehouseErrorCode | undefined;
  readonly user?: AuditUser | undefined;
  readonly app?: string | undefined;
  readonly clientIp?: string | undefined;
  readonly userAgent?: string | undefined;
  readonly requestId?: string | undefined;
  readonly details?: Readonly<Record<string, string | number | boolean | null>> | undefined;
}

export type AuditEventInput = Omit<AuditEvent, 'id' | 'time'>;

/** Where audit events go: give one or several to `createGateway` as `GatewayOptions.audit`. */
export interface AuditSink {
  /** Synchronous and cheap: it runs on the request path. It must not throw for a full or broken destination. */
  write(event: AuditEvent): void;
  /** Resolves once what was written has reached its destination, or after `timeoutMs`; true when everything did. */
  flush?(timeoutMs?: number): Promise<boolean>;
  /** Delivers what it can within `timeoutMs`, counts the rest as dropped, and releases its resources. */
  close?(timeoutMs?: number): Promise<void>;
}
