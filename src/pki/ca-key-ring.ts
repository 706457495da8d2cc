/**
 * The operator's keys for sealing the connector CA's private key: one per
 * line, base64 of 32 random bytes (`openssl rand -base64 32`), optionally
 * prefixed `id:`. The first is the current key (it seals); the others are
 * previous keys, kept only to open a CA sealed before a rotation.
 */
import { createHash } from 'node:crypto';

export interface CaKey {
  readonly id: string;
  readonly secret: Buffer;
}

/** Current key first. Never empty. */
export type CaKeyRing = readonly [CaKey, ...CaKey[]];

const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Reads the keys from a file's text or an environment variable: entries are
 * separated by new lines, commas or spaces (an environment variable holds one
 * line); `#` starts a comment line. Returns the problem as a sentence when the
 * text is not a key ring.
 */
export function parseCaKeyRing(text: string): CaKeyRing | string {
  const entries = text
    .split(/\r?\n/)
    .filter((line) => !line.trimStart().startsWith('#'))
    .flatMap((line) => line.split(/[\s,]+/))
    .filter((entry) => entry !== '');
  if (entries.length === 0) return 'holds no key; write base64 of 32 random bytes, e.g. the output of "openssl rand -base64 32"';
  const keys: CaKey[] = [];
  for (const [index, entry] of entries.entries()) {
    const colon = entry.indexOf(':');
    const encoded = colon === -1 ? entry : entry.slice(colon + 1);
    const secret = BASE64.test(encoded) ? Buffer.from(encoded, 'base64') : undefined;
    const which = `key ${index + 1}`;
    if (secret === undefined || secret.length !== KEY_BYTES) {
      return `${which} is not base64 of ${KEY_BYTES} bytes; make one with "openssl rand -base64 32"`;
    }
    const id = colon === -1 ? defaultKeyId(secret) : entry.slice(0, colon);
    if (!KEY_ID.test(id)) return `${which}: the id before ":" must be 1 to 64 letters, digits, ".", "_" or "-"`;
    if (keys.some((key) => key.id === id)) return `${which}: the id "${id}" is used twice`;
    keys.push({ id, secret });
  }
  const [current, ...previous] = keys;
  return current ? [current, ...previous] : 'holds no key';
}

/** Where a sentence is enough (configuration checks): the problem, or undefined when `text` is a key ring. */
export function caKeyRingProblem(text: string): string | undefined {
  const ring = parseCaKeyRing(text);
  return typeof ring === 'string' ? ring : undefined;
}

// A key without an id is named by a short hash of it, so that the same line names the same key on every instance and after every restart.
function defaultKeyId(secret: Buffer): string {
  return createHash('sha256').update('gatehouse ca key id').update(secret).digest('hex').slice(0, 12);
}
