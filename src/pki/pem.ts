/**
 * Strict PEM (RFC 7468 §3, "strict" grammar): exactly one block, no headers,
 * canonical base64. Lenient decoders skip stray characters, which lets two
 * parsers disagree about what a request contains.
 */

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
