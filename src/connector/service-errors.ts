/**
 * Turns what went wrong on a call to the service into a ConnectorError that
 * says whether to retry and what the operator can do. Two sources: the
 * transport (socket and TLS errors, before any answer) and the answer (an
 * HTTP status, with the service's JSON error relayed verbatim).
 */
import { ConnectorError, type ServiceErrorBody } from '../errors/connector-error.ts';
import { certificateRefused, isRevocation, serviceRefusedConnector } from '../errors/connector-refusal.ts';

export interface CallContext {
  /** The service's origin, for messages. */
  readonly serviceUrl: string;
  /** The call presented a client certificate (every route after registration). */
  readonly withIdentity: boolean;
  /** The call presented an admin token (registration). */
  readonly withToken: boolean;
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ETIMEDOUT',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

// OpenSSL's verification results as Node reports them (`err.code`).
const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);

// TLS alerts the service sends when it refuses our certificate at the handshake.
const CLIENT_CERT_ALERTS =
  /ALERT_(?:CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_REVOKED|CERTIFICATE_EXPIRED|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED)/;

const CA_FILE_HINT =
  'If the service uses a private CA, give its certificate with --ca-file FILE when registering. ' +
  'If the certificate should already be trusted, a TLS-intercepting proxy or firewall may be in the way: ' +
  "have the connector's traffic to the service exempted from inspection, or (if your policy allows it) pass that proxy's CA with --ca-file.";

function untrustedMessage(code: string, detail: string, serviceUrl: string): string {
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') {
    return `The TLS certificate presented for ${serviceUrl} is not for that host name (${detail}). Check the --service URL. ${CA_FILE_HINT}`;
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return `The TLS certificate presented for ${serviceUrl} is outside its validity period (${code}). Check this host's clock; if it is right, the service's certificate must be renewed. ${CA_FILE_HINT}`;
  }
  return `The TLS certificate presented for ${serviceUrl} is not trusted (${code}: ${detail}). ${CA_FILE_HINT}`;
}

/** A failure before the service answered. */
export function mapTransportError(error: unknown, context: CallContext): ConnectorError {
  if (error instanceof ConnectorError) return error;
  const code = String((error as NodeJS.ErrnoException | undefined)?.code ?? '');
  const detail = error instanceof Error ? error.message : String(error);
  const { serviceUrl } = context;
  if (UNTRUSTED_CODES.has(code)) {
    return new ConnectorError('ERR_SERVICE_UNTRUSTED', untrustedMessage(code, detail, serviceUrl), { reason: code, cause: error });
  }
  if (context.withIdentity && CLIENT_CERT_ALERTS.test(code)) {
    return certificateRefused(code, { serviceUrl, cause: error });
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || code === 'EPROTO') {
    return new ConnectorError(
      'ERR_SERVICE_TLS',
      `Could not set up TLS with ${serviceUrl} (${code}): the address does not seem to speak TLS. Check the --service URL and port.`,
      { reason: code, cause: error },
    );
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    return new ConnectorError('ERR_SERVICE_TLS', `The TLS handshake with ${serviceUrl} failed (${code}: ${detail}).`, { reason: code, cause: error });
  }
  if (UNREACHABLE_CODES.has(code)) {
    const what = code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'its host name does not resolve' : `the connection failed (${code})`;
    return new ConnectorError(
      'ERR_SERVICE_UNREACHABLE',
      `The service at ${serviceUrl} is unreachable: ${what}. Check the URL, DNS, and that outbound HTTPS to it is allowed.`,
      { reason: code, cause: error },
    );
  }
  // Anything else at the socket level is most likely transient too.
  return new ConnectorError('ERR_SERVICE_UNREACHABLE', `The call to ${serviceUrl} failed: ${detail}.`, {
    reason: code || 'unknown',
    retryable: true,
    cause: error,
  });
}

/** Reads the protocol's `{ error: { code, reason, message, requestId } }`, if that is what the body is. */
export function parseServiceError(status: number, bodyText: string): ServiceErrorBody | undefined {
  let json: unknown;
  try {
    json = JSON.parse(bodyText);
  } catch {
    return undefined;
  }
  const error = (json as { error?: unknown } | null)?.error;
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, reason, message, requestId, dueAt } = error as Record<string, unknown>;
  if (typeof code !== 'string' || typeof message !== 'string') return undefined;
  return {
    status,
    code,
    reason: typeof reason === 'string' ? reason : undefined,
    message,
    requestId: typeof requestId === 'string' && requestId !== '' ? requestId : undefined,
    ...(typeof dueAt === 'string' ? { dueAt } : {}),
  };
}

function describe(body: ServiceErrorBody): string {
  const reason = body.reason !== undefined && body.reason !== body.code ? `, reason ${body.reason}` : '';
  const request = body.requestId !== undefined ? `, request ${body.requestId}` : '';
  return `${body.message} (${body.code}${reason}${request})`;
}

/** A non-2xx answer. */
export function mapHttpError(status: number, bodyText: string, context: CallContext): ConnectorError {
  const body = parseServiceError(status, bodyText);
  const { serviceUrl } = context;
  if (status >= 500 || status === 429) {
    const what = body ? describe(body) : `HTTP ${status}`;
    return new ConnectorError('ERR_SERVICE_UNAVAILABLE', `The service at ${serviceUrl} is not available right now: ${what}.`, {
      reason: body?.reason ?? `http_${status}`,
      ...(body ? { service: body } : {}),
    });
  }
  if (!body) {
    return new ConnectorError(
      'ERR_SERVICE_REFUSED',
      `${serviceUrl} answered HTTP ${status} without the service's JSON error: something else answered (a proxy, or a server that is not Gatehouse). Check the --service URL.`,
      { reason: `http_${status}` },
    );
  }
  const options = { service: body };
  if (status === 401 && isRevocation(body)) return serviceRefusedConnector(body, { serviceUrl, service: body });
  if (status === 401 && context.withToken) {
    return new ConnectorError('ERR_TOKEN_REFUSED', `The service refused the admin token: ${describe(body)}.`, options);
  }
  if (status === 401 && context.withIdentity) return serviceRefusedConnector(body, { serviceUrl, service: body });
  // Renewal with a certificate another renewal replaced: this host does not hold the current one.
  if (body.code === 'ERR_CERT_SUPERSEDED') return serviceRefusedConnector(body, { serviceUrl, service: body });
  if (body.code === 'ERR_CSR_INVALID') {
    return new ConnectorError('ERR_CSR_REFUSED', `The service refused the certificate request: ${describe(body)}.`, options);
  }
  if (body.code === 'ERR_UNKNOWN_GROUP') {
    return new ConnectorError('ERR_UNKNOWN_GROUP', `The service refused the connector group: ${describe(body)}.`, options);
  }
  if (body.code === 'ERR_RENEWAL_NOT_DUE') {
    return new ConnectorError('ERR_RENEWAL_NOT_DUE', `The service says renewal is not due yet: ${describe(body)}.`, options);
  }
  if (status === 401) {
    return new ConnectorError('ERR_TOKEN_REFUSED', `The service requires an admin token: ${describe(body)}.`, options);
  }
  return new ConnectorError('ERR_SERVICE_REFUSED', `The service refused the request: ${describe(body)}.`, options);
}
