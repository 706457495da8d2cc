/**
 * The connector CA's private key as the store keeps it when the operator
 * configured a CA key: AES-256-GCM under that key, in an envelope that names
 * its format version and the key id, so that a key list with previous keys
 * can still open it after a rotation.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { CaKey, CaKeyRing } from './ca-key-ring.ts';
import { CaError } from './errors.ts';

export interface SealedCaKey {
  readonly v: 1;
  readonly alg: 'A256GCM';
  /** The id of the key it was sealed with. */
  readonly kid: string;
  /** base64url: 12-byte nonce, 16-byte tag, ciphertext of the PKCS #8 PEM. */
  readonly iv: string;
  readonly tag: string;
  readonly data: string;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

// The version and key id are authenticated too: an envelope relabelled to another key or format does not open.
const aad = (kid: string): Buffer => Buffer.from(`gatehouse connector CA key v1 ${kid}`, 'utf8');

export function sealCaKey(keyPem: string, key: CaKey): SealedCaKey {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.secret, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(key.id));
  const data = Buffer.concat([cipher.update(keyPem, 'utf8'), cipher.final()]);
  return { v: 1, alg: 'A256GCM', kid: key.id, iv: iv.toString('base64url'), tag: cipher.getAuthTag().toString('base64url'), data: data.toString('base64url') };
}

/** Whether a stored value is a sealed key envelope (of any version): the check before openCaKey. */
export function isSealedCaKey(value: unknown): value is { readonly v: unknown; readonly kid: unknown } {
  return typeof value === 'object' && value !== null && 'v' in value && 'kid' in value;
}

/**
 * The PEM inside `sealed`, opened with the key of `ring` its id names.
 * Throws a CaError: ERR_CA_KEY_MISSING without a ring, ERR_CA_KEY_MISMATCH
 * when no key has that id or the key does not open it (wrong key or altered
 * data: GCM cannot tell them apart), ERR_CA_INVALID for an unknown format.
 */
export function openCaKey(sealed: unknown, ring: CaKeyRing | undefined): string {
  const envelope = checkEnvelope(sealed);
  if (ring === undefined) {
    throw new CaError(
      'ERR_CA_KEY_MISSING',
      `The connector CA's private key in the store is encrypted (key id "${envelope.kid}"), but no CA key is configured: set connectors.caKeyFile or GATEHOUSE_CA_KEY.`,
    );
  }
  const key = ring.find((candidate) => candidate.id === envelope.kid);
  if (key === undefined) {
    throw new CaError(
      'ERR_CA_KEY_MISMATCH',
      `The connector CA's private key in the store is encrypted with key id "${envelope.kid}", which is not among the configured CA keys (${ring.map((k) => `"${k.id}"`).join(', ')}): configure that key, as the current one or after it.`,
    );
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.secret, Buffer.from(envelope.iv, 'base64url'), { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(envelope.kid));
    decipher.setAuthTag(Buffer.from(envelope.tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(envelope.data, 'base64url')), decipher.final()]).toString('utf8');
  } catch (error) {
    throw new CaError(
      'ERR_CA_KEY_MISMATCH',
      `The connector CA's private key in the store does not decrypt with the configured CA key "${envelope.kid}": the key is wrong, or the stored value was altered.`,
      { cause: error },
    );
  }
}

function checkEnvelope(value: unknown): SealedCaKey {
  const fields = (value ?? {}) as Record<string, unknown>;
  const text = (name: string): boolean => typeof fields[name] === 'string';
  if (fields['v'] !== 1 || fields['alg'] !== 'A256GCM' || !text('kid') || !text('iv') || !text('tag') || !text('data')) {
    const version = typeof fields['v'] === 'number' ? ` (format version ${fields['v']})` : '';
    throw new CaError('ERR_CA_INVALID', `The connector CA's encrypted private key in the store is not in a format this version reads${version}.`);
  }
  if (Buffer.from(fields['iv'] as string, 'base64url').length !== IV_BYTES || Buffer.from(fields['tag'] as string, 'base64url').length !== TAG_BYTES) {
    throw new CaError('ERR_CA_KEY_MISMATCH', `The connector CA's encrypted private key in the store was altered (nonce or tag of the wrong size).`);
  }
  return fields as unknown as SealedCaKey;
}
