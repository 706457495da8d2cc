/**
 * A second, independent check of a connector's client certificate (RSA or
 * EC P-256 key), after OpenSSL accepted it in the TLS handshake: node-forge
 * verifies the CA's signature, the validity window and the usage. Two implementations must
 * both be fooled for a forged certificate to pass.
 */
import type forge from 'node-forge';
import { MAX_CLIENT_CERT_BYTES } from '../limits.ts';
import { certificateFromDer, extension, singleAttribute } from './certificate-fields.ts';
import { sha256Hex } from './fingerprint.ts';
import { decodePem } from './pem.ts';

export type ClientCertificateRefusal = 'not_issued_by_ca' | 'expired' | 'not_yet_valid' | 'malformed' | 'wrong_usage';

export interface VerifiedClientCertificate {
  readonly ok: true;
  readonly connectorId: string;
  readonly group: string;
  readonly serialNumber: string;
  readonly fingerprint256: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export type ClientCertificateVerdict = VerifiedClientCertificate | { readonly ok: false; readonly reason: ClientCertificateRefusal };

/**
 * @param certificate PEM text, or DER bytes as `tlsSocket.getPeerCertificate().raw` gives them.
 * @param now milliseconds since the epoch.
 */
export function verifyClientCertificate(ca: forge.pki.Certificate, certificate: string | Uint8Array, now: number): ClientCertificateVerdict {
  const der = toDer(certificate);
  if (!der) return refuse('malformed');
  let cert: forge.pki.Certificate;
  try {
    cert = certificateFromDer(der);
  } catch {
    return refuse('malformed');
  }
  if (!issuedBy(ca, cert)) return refuse('not_issued_by_ca');

  const notBefore = cert.validity.notBefore;
  const notAfter = cert.validity.notAfter;
  if (now < notBefore.getTime()) return refuse('not_yet_valid');
  if (now > notAfter.getTime()) return refuse('expired');

  if (!usableForClientAuth(cert)) return refuse('wrong_usage');
  const connectorId = singleAttribute(cert.subject, 'CN');
  const group = singleAttribute(cert.subject, 'OU');
  if (connectorId === undefined || group === undefined) return refuse('malformed');

  return {
    ok: true,
    connectorId,
    group,
    serialNumber: cert.serialNumber.toLowerCase(),
    fingerprint256: sha256Hex(der),
    notBefore,
    notAfter,
  };
}

function refuse(reason: ClientCertificateRefusal): { ok: false; reason: ClientCertificateRefusal } {
  return { ok: false, reason };
}

function toDer(certificate: string | Uint8Array): Buffer | undefined {
  if (typeof certificate === 'string') {
    // Checked before parsing: size alone must never cost more than a length count.
    if (Buffer.byteLength(certificate, 'utf8') > MAX_CLIENT_CERT_BYTES) return undefined;
    const decoded = decodePem(certificate, ['CERTIFICATE']);
    return decoded.ok ? decoded.der : undefined;
  }
  if (!(certificate instanceof Uint8Array) || certificate.byteLength > MAX_CLIENT_CERT_BYTES) return undefined;
  return Buffer.from(certificate);
}

function issuedBy(ca: forge.pki.Certificate, cert: forge.pki.Certificate): boolean {
  try {
    // verify() compares the issuer with the CA's subject, then checks the signature.
    return ca.verify(cert);
  } catch {
    return false;
  }
}

function usableForClientAuth(cert: forge.pki.Certificate): boolean {
  const constraints = extension(cert, 'basicConstraints');
  if (constraints?.['cA'] === true) return false;
  const keyUsage = extension(cert, 'keyUsage');
  if (keyUsage && keyUsage['digitalSignature'] !== true) return false;
  // Required, not merely allowed: without it a certificate would be good for any purpose.
  return extension(cert, 'extKeyUsage')?.['clientAuth'] === true;
}
