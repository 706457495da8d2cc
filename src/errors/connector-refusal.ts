/**
 * The one place that words "the service will not take this connector any
 * more". Every link can be the first to learn it: a REST call answered 401,
 * the events stream's `revoked` event, a tunnel's GOAWAY, a TLS alert at the
 * handshake. The supervisor stops with whichever arrives first, so each of
 * them builds its error here: the operator reads the same code, text and exit
 * status whichever link it was, and a log search for one text finds them all.
 *
 * The text depends only on the service's code and machine reason, never on
 * the link, the transport or a request id (those go to the log, with
 * `service` when the refusal came with the service's JSON error).
 */
import { ConnectorError, type ServiceErrorBody } from './connector-error.ts';

/** What the service said, from whichever link heard it. */
export interface ServiceRefusal {
  /** The service's code, `ERR_CONNECTOR_REVOKED` or `ERR_CERT_REFUSED` (or a code of an older service). */
  readonly code: string;
  /** The service's machine reason, e.g. `revoked`, `superseded`, `other_ca`; or the TLS alert. */
  readonly reason?: string | undefined;
}

export interface RefusalContext {
  /** The service's origin, for the command that fixes it. */
  readonly serviceUrl: string;
  /** The service's JSON error, when the refusal came as one (kept for the log). */
  readonly service?: ServiceErrorBody;
  readonly cause?: unknown;
}

/**
 * Services before the codes were merged sent `ERR_CERT_REVOKED` for a
 * revocation and `ERR_CONNECTOR_CERT` for a refused certificate; a connector
 * still reads them, so it says the same thing whichever version it talks to.
 */
const REVOKED_CODES: ReadonlySet<string> = new Set(['ERR_CONNECTOR_REVOKED', 'ERR_CERT_REVOKED']);

/** The reasons the service gives for refusing a certificate, in an operator's words. */
const CERTIFICATE_REASONS: Readonly<Record<string, string>> = {
  no_certificate: 'no client certificate reached it (a TLS-inspecting proxy may be in the way)',
  other_ca: "it was not issued by this service's connector CA",
  self_signed: "it was not issued by this service's connector CA",
  not_issued_by_ca: "it was not issued by this service's connector CA",
  bad_signature: "it was not issued by this service's connector CA",
  expired: 'it has expired',
  not_yet_valid: "it is not valid yet (check this host's clock)",
  malformed: 'it is malformed',
  wrong_usage: 'it is not a client certificate',
  unknown_certificate: 'no registered connector holds it',
  subject_mismatch: 'it names another connector',
  superseded: 'a renewal replaced it and its grace period is over',
  already_renewed: 'it was already renewed, and the new certificate is not on this host (is a copy of this state directory running elsewhere?)',
};

function registerAgain(serviceUrl: string): string {
  return `gatehouse-connector register --service ${serviceUrl} --force`;
}

/** The reason is the service's text, printed on the operator's terminal: only a machine token gets through. */
const MACHINE_REASON = /^[A-Za-z0-9_.-]{1,64}$/;

function explain(reason: string): string {
  if (Object.hasOwn(CERTIFICATE_REASONS, reason)) return `${CERTIFICATE_REASONS[reason]} (${reason})`;
  if (/ALERT/.test(reason)) return `the TLS handshake refused it (${reason})`;
  return `reason ${reason}`;
}

/** Whether a service code means the connector itself was revoked. */
export function isRevocation(refusal: ServiceRefusal): boolean {
  return REVOKED_CODES.has(refusal.code);
}

function errorOptions(context: RefusalContext): { service?: ServiceErrorBody; cause?: unknown } {
  return { ...(context.service ? { service: context.service } : {}), ...(context.cause !== undefined ? { cause: context.cause } : {}) };
}

/** `ERR_CONNECTOR_REVOKED`: the connector stops, whichever link heard it. */
export function connectorRevoked(context: RefusalContext): ConnectorError {
  return new ConnectorError(
    'ERR_CONNECTOR_REVOKED',
    `An administrator revoked this connector; the service refuses it from now on. To bring it back, register it again: ${registerAgain(context.serviceUrl)}`,
    { ...errorOptions(context), reason: 'revoked' },
  );
}

/** `ERR_CERT_REFUSED`: the connector stops; `reason` is the service's machine reason or the TLS alert. */
export function certificateRefused(reason: string | undefined, context: RefusalContext): ConnectorError {
  const token = reason !== undefined && MACHINE_REASON.test(reason) ? reason : 'unknown';
  return new ConnectorError(
    'ERR_CERT_REFUSED',
    `The service refused this connector's certificate: ${explain(token)}. Register the connector again: ${registerAgain(context.serviceUrl)}`,
    { ...errorOptions(context), reason: token },
  );
}

/** The error the connector stops with when the service refuses it, from what the service said. */
export function serviceRefusedConnector(refusal: ServiceRefusal, context: RefusalContext): ConnectorError {
  return isRevocation(refusal) ? connectorRevoked(context) : certificateRefused(refusal.reason, context);
}
