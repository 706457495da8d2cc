/**
 * What the connector process fails with: a code from the table (which says
 * whether trying again can help, as in cloudflared `connection/errors.go`)
 * and a message written for the operator who reads it in a terminal or a
 * service log.
 */
import type { ConnectorErrorCode } from './connector-codes.ts';
import { ERROR_TABLE } from './table.ts';

/** Details of the service's JSON error, relayed verbatim. */
export interface ServiceErrorBody {
  readonly status: number;
  readonly code: string;
  readonly reason: string | undefined;
  readonly message: string;
  readonly requestId: string | undefined;
  /** `409 ERR_RENEWAL_NOT_DUE`: when renewal will be accepted. */
  readonly dueAt?: string;
}

export interface ConnectorErrorOptions {
  /** Overrides the table's answer for this instance (a failure the supervisor knows to be passing, or final). */
  readonly retryable?: boolean;
  /** Machine reason: the Node error code, the service's reason, the file name. */
  readonly reason?: string;
  readonly service?: ServiceErrorBody;
  readonly cause?: unknown;
}

/** Every failure of the connector: a stable code, a message saying what to do, and whether retrying can help. */
export class ConnectorError extends Error {
  readonly code: ConnectorErrorCode;
  readonly retryable: boolean;
  readonly reason: string;
  /** Present when the service answered with its JSON error. */
  readonly service: ServiceErrorBody | undefined;

  constructor(code: ConnectorErrorCode, message: string, options: ConnectorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConnectorError';
    this.code = code;
    this.retryable = options.retryable ?? ERROR_TABLE[code].retryable;
    this.reason = options.reason ?? options.service?.reason ?? code;
    this.service = options.service;
  }
}

export function isConnectorError(value: unknown): value is ConnectorError {
  return value instanceof ConnectorError;
}

/** A caller mistake (bad option), in the style of Node's `ERR_INVALID_ARG_VALUE`. */
export class ConnectorArgumentError extends TypeError {
  readonly code = 'ERR_INVALID_ARG_VALUE';

  constructor(message: string) {
    super(message);
    this.name = 'ConnectorArgumentError';
  }
}
