import type { GatehouseErrorCode } from '../errors.ts';

/** Every audit event type Gatehouse emits. Documented in the README's audit section. */
export type AuditEventType =
  | 'request.rejected'
  | 'forward.failed'
  | 'signin.started'
  | 'signin.succeeded'
  | 'signin.failed'
  | 'signin.loop_detected'
  | 'session.rejected'
  | 'session.expired'
  | 'session.revocation_overflow'
  | 'logout'
  | 'gateway.started'
  | 'connector.registered'
  | 'connector.renewed'
  | 'connector.refused'
  | 'connector.revoked'
  | 'connector.moved'
  | 'connector.connected'
  | 'connector.disconnected'
  | 'config.changed'
  | 'idp.unavailable';

export type AuditOutcome = 'success' | 'failure' | 'info';

export interface AuditUser {
  readonly sub: string;
  readonly name?: string | undefined;
  readonly email?: string | undefined;
}

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

export interface AuditSink {
  write(event: AuditEvent): void;
}
