/**
 * The few places where node-forge meets node:crypto. forge builds and reads
 * the ASN.1; OpenSSL (node:crypto) does the private-key operations, because
 * forge's big-integer arithmetic is neither fast nor constant-time.
 */
import { sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { MAX_PKI_ASN1_DEPTH } from '../limits.ts';
import { OID_SHA256_WITH_RSA } from './oids.ts';

interface FromDerOptions {
  readonly strict: boolean;
  readonly parseAllBytes: boolean;
  readonly decodeBitStrings: boolean;
  readonly maxDepth: number;
}

// The typings only know the legacy boolean `strict` argument.
const fromDer = forge.asn1.fromDer as unknown as (bytes: forge.util.ByteStringBuffer, options: FromDerOptions) => forge.asn1.Asn1;

// Public in node-forge, missing from its typings.
interface ForgeInternals {
  getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1;
  getCertificationRequestInfo(csr: forge.pki.CertificateSigningRequest): forge.asn1.Asn1;
}
const internals = forge.pki as unknown as ForgeInternals;

/**
 * Parses DER and insists that forge would write back the very same bytes:
 * BER leniencies (long-form lengths, padded integers) are refused, so the
 * bytes a signature covers are the bytes forge shows us.
 */
export function parseDer(der: Uint8Array, options: { decodeBitStrings: boolean }): forge.asn1.Asn1 {
  const binary = Buffer.from(der).toString('binary');
  const node = fromDer(forge.util.createBuffer(binary), {
    strict: true,
    parseAllBytes: true,
    decodeBitStrings: options.decodeBitStrings,
    maxDepth: MAX_PKI_ASN1_DEPTH,
  });
  if (forge.asn1.toDer(node).getBytes() !== binary) throw new Error('not in DER (distinguished) encoding');
  return node;
}

export function toDer(node: forge.asn1.Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(node).getBytes(), 'binary');
}

export function forgePublicKey(key: KeyObject): forge.pki.rsa.PublicKey {
  return forge.pki.publicKeyFromPem(key.export({ type: 'spki', format: 'pem' }).toString());
}

/** Signs a forge certificate with SHA-256 / RSA (PKCS #1 v1.5) using an OpenSSL key. */
export function signCertificate(cert: forge.pki.Certificate, caKey: KeyObject): void {
  cert.siginfo.algorithmOid = OID_SHA256_WITH_RSA;
  cert.signatureOid = OID_SHA256_WITH_RSA;
  const tbs = internals.getTBSCertificate(cert);
  cert.tbsCertificate = tbs;
  cert.signature = sign('sha256', toDer(tbs), caKey).toString('binary');
}

export function certificateDer(cert: forge.pki.Certificate): Buffer {
  return toDer(forge.pki.certificateToAsn1(cert));
}

/** Signs a forge certification request with SHA-256 / RSA (PKCS #1 v1.5) using an OpenSSL key. */
export function signCertificationRequest(csr: forge.pki.CertificateSigningRequest, key: KeyObject): void {
  csr.siginfo.algorithmOid = OID_SHA256_WITH_RSA;
  csr.signatureOid = OID_SHA256_WITH_RSA;
  const info = internals.getCertificationRequestInfo(csr);
  // forge serializes this cached value, so the signed bytes are the sent bytes.
  (csr as forge.pki.CertificateSigningRequest & { certificationRequestInfo: forge.asn1.Asn1 }).certificationRequestInfo = info;
  csr.signature = sign('sha256', toDer(info), key).toString('binary');
}
