/**
 * PEM text, both ways it reaches us. What a client sends (a CSR) is decoded
 * strictly (RFC 7468 §3, "strict" grammar): exactly one block, no headers,
 * canonical base64; lenient decoders skip stray characters, which lets two
 * parsers disagree about what a request contains. What an operator gives (a
 * CA file, a certificate chain) is read as a bundle of certificate blocks.
 */
import { X509Certificate } from 'node:crypto';

export type PemResult = { ok: true; label: string; der: Buffer } | { ok: false; problem: string };

// Character classes never overlap with the dashes of the boundaries, so this
// regex runs in linear time on any input.
const BLOCK = /^-----BEGIN ([A-Z0-9 ]{1,64})-----\r?\n([A-Za-z0-9+/=\r\n\t ]*)-----END ([A-Z0-9 ]{1,64})-----$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function decodePem(text: string, labels: readonly string[]): PemResult {
  const match = BLOCK.exec(text.trim());
  if (!match) return { ok: false, problem: 'it is not a single PEM block' };
  const [, begin = '', body = '', end = ''] = match;
  if (begin !== end) return { ok: false, problem: 'its PEM BEGIN and END lines do not match' };
  if (!labels.includes(begin)) {
    return { ok: false, problem: `it is a PEM "${begin}" block, expected "${labels.join('" or "')}"` };
  }
  const base64 = body.replace(/[\r\n\t ]/g, '');
  if (base64.length === 0 || base64.length % 4 !== 0 || !BASE64.test(base64)) {
    return { ok: false, problem: 'its PEM body is not valid base64' };
  }
  const der = Buffer.from(base64, 'base64');
  // Non-zero padding bits decode "successfully" to the same bytes as another text.
  if (der.toString('base64') !== base64) return { ok: false, problem: 'its PEM body is not canonical base64' };
  return { ok: true, label: begin, der };
}

export function encodePem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export type CertificateBundleResult = { ok: true; certificates: X509Certificate[] } | { ok: false; problem: string };

/**
 * The certificates of a PEM bundle, each parsed. Text between the blocks is
 * ignored: `openssl` writes "subject=" lines there and operators add comments.
 * The problem is worded to follow the bundle's name ("ca.pem holds …").
 */
export function parseCertificateBundle(pem: string): CertificateBundleResult {
  const blocks = pem.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) return { ok: false, problem: 'holds no PEM certificate ("-----BEGIN CERTIFICATE-----")' };
  const certificates: X509Certificate[] = [];
  for (const [index, block] of blocks.entries()) {
    try {
      certificates.push(new X509Certificate(block));
    } catch {
      const which = blocks.length === 1 ? '' : ` (the ${ordinal(index + 1)} of ${blocks.length})`;
      return { ok: false, problem: `holds a certificate that does not parse${which}` };
    }
  }
  return { ok: true, certificates };
}

/** Normalised PEM bundle: the certificate blocks only, one after the other. */
export function certificateBundleToPem(certificates: readonly X509Certificate[]): string {
  return certificates.map((certificate) => certificate.toString().trim()).join('\n') + '\n';
}

function ordinal(n: number): string {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}
