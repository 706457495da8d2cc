/** Typed access to the parts of a forge certificate the CA reads and writes. */
import forge from 'node-forge';
import { parseDer } from './forge-der.ts';

export const DAY_MS = 24 * 60 * 60 * 1000;

/** Reads a certificate from DER. Throws on anything forge cannot read or would encode differently. */
export function certificateFromDer(der: Uint8Array): forge.pki.Certificate {
  // computeHash: forge digests the TBSCertificate now, for verify() later.
  return forge.pki.certificateFromAsn1(parseDer(der, { decodeBitStrings: true }), true);
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
