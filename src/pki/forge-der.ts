/**
 * The few places where node-forge meets node:crypto. forge builds and reads
 * the ASN.1; OpenSSL (node:crypto) does the private-key operations, because
 * forge's big-integer arithmetic is neither fast nor constant-time.
 */
import { createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';
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

/** A public key as the SubjectPublicKeyInfo DER that certificates carry, whatever its type. */
export function subjectPublicKeyInfo(key: KeyObject): Buffer {
  return (key.type === 'public' ? key : createPublicKey(key)).export({ type: 'spki', format: 'der' });
}

/**
 * The key identifier of RFC 5280 §4.2.1.2 method 1 (SHA-1 of the
 * subjectPublicKey bits), as forge bytes: what forge computes for an RSA key,
 * for any key.
 */
function keyIdentifier(spkiDer: Uint8Array): string {
  const bits = parseDer(spkiDer, { decodeBitStrings: false }).value[1];
  if (typeof bits !== 'object' || typeof bits.value !== 'string') throw new Error('not a SubjectPublicKeyInfo');
  // The BIT STRING's first octet counts unused bits; the key is the rest.
  return createHash('sha1')
    .update(Buffer.from(bits.value.slice(1), 'binary'))
    .digest()
    .toString('binary');
}

/** The subjectKeyIdentifier extension for a key, given to forge rather than computed by it: forge hashes cert.publicKey, which it only knows for RSA. */
export function subjectKeyIdentifierExtension(spkiDer: Uint8Array): { name: 'subjectKeyIdentifier'; value: forge.asn1.Asn1 } {
  return { name: 'subjectKeyIdentifier', value: forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.OCTETSTRING, false, keyIdentifier(spkiDer)) };
}

/**
 * forge reads and writes only RSA subject keys: this stands in for any key
 * while forge builds or reads a certificate, and the real SubjectPublicKeyInfo
 * is put back in the bytes that are signed (see certificate-fields.ts).
 */
export const PLACEHOLDER_KEY = forge.pki.setRsaPublicKey(new forge.jsbn.BigInteger('3'), new forge.jsbn.BigInteger('3'));
// Version, serial, signature, issuer, validity, subject, then the key (RFC 5280 §4.1).
const TBS_KEY_INDEX = 6;

/**
 * Signs a forge certificate with SHA-256 / RSA (PKCS #1 v1.5) using an
 * OpenSSL key. The subject's key is given as SPKI DER, an RSA or an EC key
 * alike; cert.publicKey is ignored.
 */
export function signCertificate(cert: forge.pki.Certificate, caKey: KeyObject, subjectKeyInfo: Uint8Array): void {
  cert.siginfo.algorithmOid = OID_SHA256_WITH_RSA;
  cert.signatureOid = OID_SHA256_WITH_RSA;
  cert.publicKey = PLACEHOLDER_KEY;
  const tbs = internals.getTBSCertificate(cert);
  if (!Array.isArray(tbs.value) || tbs.value.length <= TBS_KEY_INDEX) throw new Error('forge built an unexpected TBSCertificate');
  tbs.value[TBS_KEY_INDEX] = parseDer(subjectKeyInfo, { decodeBitStrings: false });
  cert.tbsCertificate = tbs;
  cert.signature = sign('sha256', toDer(tbs), caKey).toString('binary');
}

export function certificateDer(cert: forge.pki.Certificate): Buffer {
  return toDer(forge.pki.certificateToAsn1(cert));
}
