/**
 * Which connector a connection belongs to, by its client certificate: TLS
 * checked it against the connector CA, it is checked again here, and the
 * registry must still accept it.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { ConnectorCa } from '../pki/connector-ca.ts';
import { GatehouseError } from '../errors/index.ts';
import type { CertificateMatch, ConnectorRecord, ConnectorRegistry } from './connector-registry.ts';

export interface AuthenticatedConnector {
  readonly record: ConnectorRecord;
  readonly fingerprint256: string;
  readonly which: 'current' | 'previous';
}

/** Why TLS did not authorize a client certificate, in our words. */
const TLS_REASONS: Readonly<Record<string, string>> = {
  CERT_HAS_EXPIRED: 'expired',
  CERT_NOT_YET_VALID: 'not_yet_valid',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self_signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'other_ca',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'other_ca',
  UNABLE_TO_GET_ISSUER_CERT: 'other_ca',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'other_ca',
  CERT_SIGNATURE_FAILURE: 'bad_signature',
};

/**
 * Decides whether the client certificate of a request belongs to a
 * registered, unrevoked connector: TLS must have verified it against the
 * connector CA, node-forge verifies it again, and the registry must know it
 * as the current certificate (or the previous one within the grace period).
 * A certificate this instance does not know may have been issued by another
 * one: the registry is read again (rate-limited) before it is refused.
 */
export function authenticateConnector(req: IncomingMessage, ca: ConnectorCa, registry: ConnectorRegistry, nowMs: number): Promise<AuthenticatedConnector> {
  return authenticateSocket(req.socket as TLSSocket, ca, registry, nowMs);
}

/** The same decision for a raw TLS connection (a tunnel negotiated by ALPN). */
export async function authenticateSocket(socket: TLSSocket, ca: ConnectorCa, registry: ConnectorRegistry, nowMs: number): Promise<AuthenticatedConnector> {
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
  if (!peer || !peer.raw) throw new GatehouseError('ERR_CERT_REFUSED', 'no_certificate');
  if (!socket.authorized) {
    const code = typeof socket.authorizationError === 'string' ? socket.authorizationError : String(socket.authorizationError);
    throw new GatehouseError('ERR_CERT_REFUSED', TLS_REASONS[code] ?? `tls_${code.toLowerCase()}`);
  }
  const verified = ca.verifyClientCertificate(peer.raw, nowMs);
  if (!verified.ok) throw new GatehouseError('ERR_CERT_REFUSED', verified.reason);
  await registry.lookup(verified.fingerprint256);
  const standing = certificateStanding(registry, verified.fingerprint256, nowMs);
  if (standing instanceof GatehouseError) throw standing;
  const { record, which } = standing;
  if (record.id !== verified.connectorId) throw new GatehouseError('ERR_CERT_REFUSED', 'subject_mismatch');
  return { record, fingerprint256: verified.fingerprint256, which };
}

/**
 * Whether the registry still accepts a certificate, by its fingerprint: the
 * current one of an unrevoked connector, or its previous one within the
 * grace period. Asked at every handshake and request, and again on every
 * heartbeat for the connections already open, so that a connection outlives
 * neither the grace period nor a revocation.
 */
export function certificateStanding(registry: ConnectorRegistry, fingerprint256: string, nowMs: number): CertificateMatch | GatehouseError {
  const match = registry.byFingerprint(fingerprint256);
  if (!match) return new GatehouseError('ERR_CERT_REFUSED', 'unknown_certificate');
  if (match.record.revoked) return new GatehouseError('ERR_CONNECTOR_REVOKED', 'revoked');
  if (match.which === 'previous' && (match.record.previous?.validUntil ?? 0) <= Math.floor(nowMs / 1000)) {
    return new GatehouseError('ERR_CERT_REFUSED', 'superseded');
  }
  return match;
}
