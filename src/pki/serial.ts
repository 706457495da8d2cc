import { randomBytes } from 'node:crypto';

/**
 * A random positive serial in a 16-byte DER INTEGER (126 random bits; the
 * CA/Browser Forum asks for 64). The leading byte is kept in 0x40..0x7f: no
 * sign bit, and no leading zero that would make the encoding non-minimal.
 */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return bytes.toString('hex');
}
