/**
 * Every failure the connector reports has a stable code and says whether
 * trying again can help (as in cloudflared `connection/errors.go`):
 * the supervisor backs off and reconnects on a retryable error and stops with
 * the operator's next step on any other. Messages are written for the
 * operator who reads them in a terminal or a service log.
 */

export type ConnectorErrorCode =
  /** Could not open a connection: refused, DNS, reset, network down. */
  | 'ERR_SERVICE_UNREACHABLE'
  /** Connected, but no answer (or no heartbeat) in time. */
  | 'ERR_SERVICE_TIMEOUT'
  /** The service's TLS certificate failed verification. */
  | 'ERR_SERVICE_UNTRUSTED'
  /** The TLS handshake failed for another reason (wrong port, protocol). */
  | 'ERR_SERVICE_TLS'
  /** The service answered 5xx or 429. */
  | 'ERR_SERVICE_UNAVAILABLE'
  /** The answer was not the JSON the protocol describes. */
  | 'ERR_SERVICE_BAD_RESPONSE'
  /** Any other refusal the service explained with its JSON error. */
  | 'ERR_SERVICE_REFUSED'
  /** Registration: the admin token was missing or refused. */
  | 'ERR_TOKEN_REFUSED'
  /** Registration or renewal: the certificate request was refused. */
  | 'ERR_CSR_REFUSED'
  /** Registration: the group named does not exist. */
  | 'ERR_UNKNOWN_GROUP'
  /** A 401 on an mTLS route: the certificate is unknown, expired, revoked or replaced. */
  | 'ERR_CERT_REFUSED'
  /** The service said this connector was revoked. */
  | 'ERR_CONNECTOR_REVOKED'
  /** Renewal asked for too early. */
  | 'ERR_RENEWAL_NOT_DUE'
  /** The configuration the service sent failed validation; the previous one stays. */
  | 'ERR_CONFIG_INVALID'
  /** Device login: the identity provider could not be reached or trusted. */
  | 'ERR_IDP_UNREACHABLE'
  /** Device login: the identity provider answered with an error. */
  | 'ERR_IDP_ERROR'
  /** Device login: nobody entered the code in time. */
  | 'ERR_DEVICE_CODE_EXPIRED'
  /** Device login: the user declined. */
  | 'ERR_DEVICE_LOGIN_DENIED'
  /** `register` without `--force` on a state directory that holds a registration. */
  | 'ERR_ALREADY_REGISTERED'
  /** `run` or `status` on a state directory without a registration. */
  | 'ERR_NOT_REGISTERED'
  /** A state file is unreadable, malformed, or does not match its partner. */
  | 'ERR_STATE_INVALID'
  /** A state file is readable by other users. */
  | 'ERR_STATE_INSECURE'
  /** A file named on the command line (CA bundle) is unreadable or not PEM certificates. */
  | 'ERR_FILE_INVALID'
  /** Stopped by a signal. */
  | 'ERR_ABORTED';

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
  readonly retryable?: boolean;
  /** Machine reason: the Node error code, the service's reason, the file name. */
  readonly reason?: string;
  readonly service?: ServiceErrorBody;
  readonly cause?: unknown;
}

const RETRYABLE_BY_DEFAULT: ReadonlySet<ConnectorErrorCode> = new Set<ConnectorErrorCode>([
  'ERR_SERVICE_UNREACHABLE',
  'ERR_SERVICE_TIMEOUT',
  'ERR_SERVICE_UNAVAILABLE',
  'ERR_IDP_UNREACHABLE',
]);

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
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
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
