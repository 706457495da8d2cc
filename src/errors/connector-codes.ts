/**
 * The connector process's codes, for the operator who reads them in a
 * terminal or a service log. Each row says whether trying again can help:
 * the supervisor backs off and reconnects on a retryable error and stops
 * with the operator's next step on any other. The instance's message says
 * what exactly happened; the row's message is what the code means.
 *
 * Where the connector relays what the service said (an unknown group, a
 * renewal not due, a refused certificate, a revocation) it uses the
 * service's own code and row, so one code means one thing on both sides.
 */
import type { ConnectorPlaneErrorCode } from './connector-plane-codes.ts';
import type { GatewayErrorCode } from './gateway-codes.ts';
import type { ErrorRow } from './row.ts';

export const CONNECTOR_ERRORS = {
  ERR_SERVICE_UNREACHABLE: {
    status: 502,
    step: 'connector',
    title: 'Service unreachable',
    message: 'Could not open a connection to the service: refused, unresolved, reset, or the network is down.',
    expose: true,
    retryable: true,
  },
  ERR_SERVICE_TIMEOUT: {
    status: 504,
    step: 'connector',
    title: 'Service timed out',
    message: 'Connected to the service, but no answer (or no heartbeat) came in time.',
    expose: true,
    retryable: true,
  },
  ERR_PROXY_UNREACHABLE: {
    status: 502,
    step: 'connector',
    title: 'Outbound proxy unreachable',
    message: 'Could not open a connection to the outbound proxy (HTTPS_PROXY or --proxy): refused, unresolved, reset, or no answer.',
    expose: true,
    retryable: true,
  },
  ERR_PROXY_REFUSED: {
    status: 502,
    step: 'connector',
    title: 'Outbound proxy refused the tunnel',
    message:
      'The outbound proxy answered the CONNECT request with an error status (its policy, or it could not reach the service); the status is in the message.',
    expose: true,
    retryable: false,
  },
  ERR_PROXY_AUTH_REQUIRED: {
    status: 407,
    step: 'connector',
    title: 'Outbound proxy wants credentials',
    message: 'The outbound proxy answered 407: give user:password in the proxy URL (http://user:password@proxy:3128), or the ones given were refused.',
    expose: true,
    retryable: false,
  },
  ERR_SERVICE_UNTRUSTED: {
    status: 502,
    step: 'connector',
    title: 'Service not trusted',
    message: "The service's TLS certificate failed verification.",
    expose: true,
    retryable: false,
  },
  ERR_SERVICE_TLS: {
    status: 502,
    step: 'connector',
    title: 'TLS with the service failed',
    message: 'The TLS handshake with the service failed for another reason than trust (a wrong port, another protocol).',
    expose: true,
    retryable: false,
  },
  ERR_SERVICE_UNAVAILABLE: {
    status: 503,
    step: 'connector',
    title: 'Service unavailable',
    message: 'The service answered that it is not available right now (5xx or 429).',
    expose: true,
    retryable: true,
  },
  ERR_SERVICE_BAD_RESPONSE: {
    status: 502,
    step: 'connector',
    title: 'Unexpected answer',
    message: 'The answer was not the JSON the connector protocol describes.',
    expose: true,
    retryable: false,
  },
  ERR_SERVICE_REFUSED: {
    status: 400,
    step: 'connector',
    title: 'Service refused',
    message: 'The service refused the call; its own error says why.',
    expose: true,
    retryable: false,
  },
  ERR_TOKEN_REFUSED: {
    status: 401,
    step: 'connector',
    title: 'Admin token refused',
    message: 'Registration: the admin token was missing or refused.',
    expose: true,
    retryable: false,
  },
  ERR_CSR_REFUSED: {
    status: 400,
    step: 'connector',
    title: 'Certificate request refused',
    message: 'Registration or renewal: the service refused the certificate request.',
    expose: true,
    retryable: false,
  },
  ERR_CONFIG_INVALID: {
    status: 422,
    step: 'connector',
    title: 'Configuration refused',
    message: 'The configuration the service sent failed validation, so none of it was applied; the previous one stays.',
    expose: true,
    retryable: false,
  },
  ERR_IDP_UNREACHABLE: {
    status: 503,
    step: 'sign-in',
    title: 'Identity provider unreachable',
    message: 'Device login: the identity provider could not be reached or trusted.',
    expose: true,
    retryable: true,
  },
  ERR_DEVICE_CODE_EXPIRED: {
    status: 401,
    step: 'sign-in',
    title: 'Device code expired',
    message: 'Device login: nobody entered the code in time.',
    expose: true,
    retryable: false,
  },
  ERR_DEVICE_LOGIN_DENIED: {
    status: 403,
    step: 'sign-in',
    title: 'Device login declined',
    message: 'Device login: the user declined the sign-in.',
    expose: true,
    retryable: false,
  },
  ERR_ALREADY_REGISTERED: {
    status: 409,
    step: 'connector',
    title: 'Already registered',
    message: 'The state directory already holds a registration: register with --force to replace it.',
    expose: true,
    retryable: false,
  },
  ERR_NOT_REGISTERED: {
    status: 412,
    step: 'connector',
    title: 'Not registered',
    message: 'The state directory holds no registration: register this connector first.',
    expose: true,
    retryable: false,
  },
  ERR_STATE_INVALID: {
    status: 500,
    step: 'connector',
    title: 'State unusable',
    message: 'A state file is unreadable, malformed, or does not match its partner.',
    expose: true,
    retryable: false,
  },
  ERR_STATE_INSECURE: {
    status: 500,
    step: 'connector',
    title: 'State readable by others',
    message: 'A state file is readable by other users.',
    expose: true,
    retryable: false,
  },
  ERR_FILE_INVALID: {
    status: 400,
    step: 'connector',
    title: 'File unusable',
    message: 'A file named on the command line (a CA bundle) is unreadable or holds no PEM certificates.',
    expose: true,
    retryable: false,
  },
  ERR_ABORTED: {
    status: 503,
    step: 'connector',
    title: 'Stopped',
    message: 'The connector was stopped by a signal.',
    expose: true,
    retryable: false,
  },
} as const satisfies Readonly<Record<`ERR_${string}`, ErrorRow>>;

/** The service's codes the connector reports as they are, when it relays them. */
type RelayedCode = Extract<ConnectorPlaneErrorCode, 'ERR_UNKNOWN_GROUP' | 'ERR_RENEWAL_NOT_DUE' | 'ERR_CERT_REFUSED' | 'ERR_CONNECTOR_REVOKED'>;

/** The codes a `ConnectorError` carries (the README's connector error table). */
export type ConnectorErrorCode = keyof typeof CONNECTOR_ERRORS | RelayedCode | Extract<GatewayErrorCode, 'ERR_IDP_ERROR'>;
