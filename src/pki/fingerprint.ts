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
