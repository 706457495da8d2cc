/**
 * What carrying one request through a tunnel fails with, on the service
 * side. The dispatcher answers the user with the row's `shownAs` code.
 */
import { TUNNEL_ERRORS, type TunnelErrorCode } from './tunnel-codes.ts';
import type { GatewayErrorCode } from './gateway-codes.ts';

export interface TunnelErrorOptions {
  /**
   * True when no byte of the request reached the app, so the caller may try
   * another connector.
   */
  readonly beforeUpstream: boolean;
  /** Machine reason for logs: the refusal, the RST code, the Node error code. */
  readonly reason?: string;
  readonly connectorId?: string;
  readonly cause?: unknown;
}

export class TunnelError extends Error {
  readonly code: TunnelErrorCode;
  readonly beforeUpstream: boolean;
  readonly reason: string;
  readonly connectorId: string | undefined;

  constructor(code: TunnelErrorCode, message: string, options: TunnelErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TunnelError';
    this.code = code;
    this.beforeUpstream = options.beforeUpstream;
    this.reason = options.reason ?? code;
    this.connectorId = options.connectorId;
  }

  /** The status the user is answered with: unreachable app 502, slow app 504, no connector 503. */
  get status(): number {
    return TUNNEL_ERRORS[this.code].status;
  }

  /** The code the user is answered with: who failed, in the user's terms. */
  get shownAs(): GatewayErrorCode {
    return TUNNEL_ERRORS[this.code].shownAs;
  }
}

export function isTunnelError(value: unknown): value is TunnelError {
  return value instanceof TunnelError;
}
