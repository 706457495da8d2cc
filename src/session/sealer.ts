import { sealData, unsealData, type UnsealErrorReason } from 'iron-session';
import type { z } from 'zod';
import { MAX_SET_COOKIE_BYTES } from '../limits.ts';
import type { PasswordMap } from './seal-keys.ts';

export type UnsealFailure = 'tampered' | 'expired' | 'unknown_key' | 'malformed';

export type UnsealResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: UnsealFailure };

/**
 * An iron seal as iron-session writes it: `Fe26.2`, the password id, the
 * encryption salt, IV and ciphertext, the expiry, the MAC salt and MAC,
 * then iron-session's format version. iron-session ignores a version it does
 * not know, and its base64url decoder reads characters outside the alphabet
 * and non-zero padding bits, so a valid cookie could be replayed under
 * endless spellings; only the one spelling we seal is accepted.
 */
const SEAL_SHAPE = /^Fe26\.2\*\d{1,10}\*[0-9a-f]{1,128}\*[\w-]+\*[\w-]+\*\d*\*[0-9a-f]{1,128}\*[\w-]+~2$/;

function isCanonicalSeal(value: string): boolean {
  if (!SEAL_SHAPE.test(value)) return false;
  const [, , , iv = '', encrypted = '', , , mac = ''] = value.slice(0, -2).split('*');
  return [iv, encrypted, mac].every((part) => Buffer.from(part, 'base64url').toString('base64url') === part);
}

/** Seals JSON data with the newest password (iron-session: highest id). */
export function seal(data: object, passwords: PasswordMap, ttlSeconds: number): Promise<string> {
  return sealData(data, { password: { ...passwords }, ttl: Math.max(60, Math.ceil(ttlSeconds)) });
}

/**
 * Unseals and validates a cookie value. Never throws: a forged, truncated,
 * expired or foreign value is a typed failure reason for the audit log.
 */
export async function unseal<S extends z.ZodType>(value: string, passwords: PasswordMap, schema: S): Promise<UnsealResult<z.infer<S>>> {
  if (value.length > MAX_SET_COOKIE_BYTES || !isCanonicalSeal(value)) return { ok: false, reason: 'tampered' };
  let failure: UnsealErrorReason | undefined;
  const data = await unsealData<unknown>(value, {
    password: { ...passwords },
    onUnsealError: (reason) => {
      failure = reason;
    },
  });
  if (failure !== undefined) {
    return { ok: false, reason: failure === 'expired' ? 'expired' : failure === 'unknown-password' ? 'unknown_key' : 'tampered' };
  }
  const parsed = schema.safeParse(data);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, reason: 'malformed' };
}
