/**
 * The connector plane's codes: what the service answers a connector or an
 * administrator on the connector listener, as JSON with the machine reason
 * (which check failed is no secret, and the operator needs it). The codes
 * are part of the wire protocol (docs/connector-protocol.md): the connector
 * acts on them, so a code here is renamed only with the old name still
 * read by the connector (as connector-refusal.ts reads the refusals' old names).
 */
import type { ErrorRow } from './row.ts';

export const CONNECTOR_PLANE_ERRORS = {
  ERR_ADMIN_TOKEN_MISSING: {
    status: 401,
    step: 'connector',
    title: 'Admin token required',
    message: 'This call needs an administrator\'s access token from the identity provider, as "Authorization: Bearer <token>".',
    expose: true,
    retryable: false,
  },
  ERR_ADMIN_TOKEN_INVALID: {
    status: 401,
    step: 'connector',
    title: 'Admin token refused',
    message: 'The access token was refused: it must be a current token from the configured tenant, for this service, held by an administrator.',
    expose: true,
    retryable: false,
  },
  ERR_CSR_INVALID: {
    status: 400,
    step: 'connector',
    title: 'Certificate request refused',
    message: 'The certificate request was refused: it must be a PEM PKCS#10 request with a valid signature and an RSA key of at least 2048 bits.',
    expose: true,
    retryable: false,
  },
  ERR_UNKNOWN_GROUP: {
    status: 400,
    step: 'connector',
    title: 'Unknown connector group',
    message: 'No published app uses this connector group. Use "default" or a group named by an app.',
    expose: true,
    retryable: false,
  },
  ERR_CERT_REFUSED: {
    status: 401,
    step: 'connector',
    title: 'Client certificate refused',
    message:
      'This call needs the client certificate the service issued to a registered connector. Register the connector again if its certificate was lost or replaced.',
    expose: true,
    retryable: false,
  },
  ERR_CONNECTOR_REVOKED: {
    status: 401,
    step: 'connector',
    title: 'Connector revoked',
    message: 'This connector was revoked by an administrator. Register it again to reconnect.',
    expose: true,
    retryable: false,
  },
  ERR_CONNECTOR_GROUP: {
    status: 403,
    step: 'connector',
    title: 'Other connector group',
    message: 'A connector may only read the configuration of its own connector group.',
    expose: true,
    retryable: false,
  },
  ERR_CONNECTOR_NOT_FOUND: {
    status: 404,
    step: 'connector',
    title: 'Unknown connector',
    message: 'No registered connector has this id.',
    expose: true,
    retryable: false,
  },
  ERR_RENEWAL_NOT_DUE: {
    status: 409,
    step: 'connector',
    title: 'Renewal not due',
    message: 'The current certificate is not yet old enough to be renewed.',
    expose: true,
    retryable: false,
  },
  ERR_CERT_SUPERSEDED: {
    status: 409,
    step: 'connector',
    title: 'Certificate already renewed',
    message:
      'This certificate was already renewed: only the certificate issued then can renew, or a retry of that same request. If that certificate was lost, register the connector again.',
    expose: true,
    retryable: false,
  },
} as const satisfies Readonly<Record<`ERR_${string}`, ErrorRow>>;

export type ConnectorPlaneErrorCode = keyof typeof CONNECTOR_PLANE_ERRORS;
