/** Typed access to the parts of a forge certificate the CA reads and writes. */
import forge from 'node-forge';
import { parseDer, PLACEHOLDER_KEY, toDer } from './forge-der.ts';
import { OID_RSA_ENCRYPTION } from './oids.ts';

export const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Reads a certificate from DER, for an RSA or an EC subject key. Throws on
 * anything forge cannot read or would encode differently.
 *
 * forge refuses any subject key but RSA, so a copy with a placeholder key is
 * given to it to read the names, dates and extensions, and the certificate
 * keeps the real TBSCertificate: verify() digests the bytes that were signed.
 * `publicKey` is the placeholder for a non-RSA key; certificateKeyInfo reads the real one.
 */
export function certificateFromDer(der: Uint8Array): forge.pki.Certificate {
  const signed = tbsOf(parseDer(der, { decodeBitStrings: true }));
  const readable = parseDer(der, { decodeBitStrings: true });
  const tbs = tbsOf(readable);
  const keyIndex = subjectKeyIndex(tbs);
  const algorithm = asNodes(asNodes(tbs.value[keyIndex])[0])[0];
  if (algorithm === undefined || typeof algorithm.value !== 'string') throw new Error('the certificate has no key algorithm');
  if (forge.asn1.derToOid(algorithm.value) !== OID_RSA_ENCRYPTION) tbs.value[keyIndex] = forge.pki.publicKeyToAsn1(PLACEHOLDER_KEY);
  const cert = forge.pki.certificateFromAsn1(readable, false);
  cert.tbsCertificate = signed;
  return cert;
}

/** The certificate's SubjectPublicKeyInfo DER, as signed, whatever the key type. */
export function certificateKeyInfo(cert: forge.pki.Certificate): Buffer {
  const tbs = cert.tbsCertificate;
  return toDer(asNodes(tbs)[subjectKeyIndex(tbs)] ?? tbs);
}

function asNodes(node: forge.asn1.Asn1 | undefined): forge.asn1.Asn1[] {
  if (node === undefined || !Array.isArray(node.value)) throw new Error('not a certificate');
  return node.value;
}

function tbsOf(root: forge.asn1.Asn1): forge.asn1.Asn1 & { value: forge.asn1.Asn1[] } {
  const tbs = asNodes(root)[0];
  asNodes(tbs);
  return tbs as forge.asn1.Asn1 & { value: forge.asn1.Asn1[] };
}

// RFC 5280 §4.1: [version,] serial, signature, issuer, validity, subject, key; the version is absent in v1.
function subjectKeyIndex(tbs: forge.asn1.Asn1): number {
  return asNodes(tbs)[0]?.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC ? 6 : 5;
}

/** A forge extension as parsed: its flags (cA, clientAuth, keyCertSign …) and values. */
export function extension(cert: forge.pki.Certificate, name: string): Readonly<Record<string, unknown>> | undefined {
  const found: unknown = cert.getExtension(name);
  return typeof found === 'object' && found !== null ? (found as Record<string, unknown>) : undefined;
}

/** The value of an attribute that must occur exactly once in a name, or undefined. */
export function singleAttribute(name: { readonly attributes: readonly forge.pki.CertificateField[] }, shortName: string): string | undefined {
  const matches = name.attributes.filter((attribute) => attribute.shortName === shortName);
  const value = matches.length === 1 ? matches[0]?.value : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** A name attribute as UTF8String: forge's default, PrintableString, cannot hold "_" or "@". */
export function utf8Attribute(name: string, value: string): forge.pki.CertificateField {
  // forge reads valueTagClass as an asn1.Type, whatever its typings call it.
  return { name, value, valueTagClass: forge.asn1.Type.UTF8 as unknown as forge.asn1.Class };
}

/** X.509 times have whole seconds; callers get the dates the certificate really carries. */
export function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}
