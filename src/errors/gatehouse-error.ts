import { ERROR_TABLE, type ServiceErrorCode } from './table.ts';
import type { GatehouseStep } from './row.ts';

/** A failure the service answers HTTP with; hostile or broken input becomes one of these, never a crash. */
export class GatehouseError extends Error {
  readonly code: ServiceErrorCode;
  readonly status: number;
  readonly step: GatehouseStep;
  /** Machine-readable reason for logs and audit events; shown to the caller on the connector plane only. */
  readonly reason: string;

  constructor(code: ServiceErrorCode, reason?: string, options?: { cause?: unknown }) {
    const row = ERROR_TABLE[code];
    super(row.message, options);
    this.name = 'GatehouseError';
    this.code = code;
    this.status = row.status;
    this.step = row.step;
    this.reason = reason ?? code;
  }
}

/** A caller mistake (bad option, bad config), thrown at construction time. */
export class GatehouseConfigError extends TypeError {
  readonly code = 'ERR_INVALID_CONFIG';
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    super(`Invalid Gatehouse configuration:\n  - ${issues.join('\n  - ')}`);
    this.name = 'GatehouseConfigError';
    this.issues = issues;
  }
}
