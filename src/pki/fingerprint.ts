/**
 * Certificate fingerprints, in the one form a user sees everywhere (the admin
 * API, `gatehouse-connector status`, the connector's log): SHA-256 of the DER,
 * lowercase hex without separators, the form `sha256sum` prints and a script
 * can compare byte for byte. `openssl x509 -noout -fingerprint -sha256` and
 * Node print the same bytes as "AB:CD:…"; normalizeFingerprint reads those.
 */
import { createHash, X509Certificate } from 'node:crypto';

/** Fingerprints are compared and stored as lowercase hex without separators. */
export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 over a certificate's DER, from PEM text or DER bytes. Throws on a certificate OpenSSL cannot read. */
export function certificateFingerprint256(certificate: string | Uint8Array): string {
  return normalizeFingerprint(new X509Certificate(certificate).fingerprint256);
}

/** Node reports fingerprints as "AB:CD:…" (tls getPeerCertificate, X509Certificate). */
export function normalizeFingerprint(fingerprint: string): string {
  return fingerprint.replaceAll(':', '').toLowerCase();
}
