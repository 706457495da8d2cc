import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { ConnectorCa } from '../pki/connector-ca.ts';
import { GatehouseError } from '../errors.ts';
import type { ConnectorRecord, ConnectorRegistry } from './connector-registry.ts';

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
 */
export function authenticateConnector(
  req: IncomingMessage,
  ca: ConnectorCa,
  registry: ConnectorRegistry,
  nowMs: number,
): AuthenticatedConnector {
  return authenticateSocket(req.socket as TLSSocket, ca, registry, nowMs);
}

/** The same decision for a raw TLS connection (a tunnel negotiated by ALPN). */
export function authenticateSocket(socket: TLSSocket, ca: ConnectorCa, registry: ConnectorRegistry, nowMs: number): AuthenticatedConnector {
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
  if (!peer || !peer.raw) throw new GatehouseError('ERR_CONNECTOR_CERT', 'no_certificate');
  if (!socket.authorized) {
    const code = typeof socket.authorizationError === 'string' ? socket.authorizationError : String(socket.authorizationError);
    throw new GatehouseError('ERR_CONNECTOR_CERT', TLS_REASONS[code] ?? `tls_${code.toLowerCase()}`);
  }
  const verified = ca.verifyClientCertificate(peer.raw, nowMs);
  if (!verified.ok) throw new GatehouseError('ERR_CONNECTOR_CERT', verified.reason);
  const match = registry.byFingerprint(verified.fingerprint256);
  if (!match) throw new GatehouseError('ERR_CONNECTOR_CERT', 'unknown_certificate');
  const { record, which } = match;
  if (record.revoked) throw new GatehouseError('ERR_CERT_REVOKED', 'revoked');
  if (record.id !== verified.connectorId) throw new GatehouseError('ERR_CONNECTOR_CERT', 'subject_mismatch');
  if (which === 'previous' && (record.previous?.validUntil ?? 0) <= Math.floor(nowMs / 1000)) {
    throw new GatehouseError('ERR_CONNECTOR_CERT', 'superseded');
  }
  return { record, fingerprint256: verified.fingerprint256, which };
}
