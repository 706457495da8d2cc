/**
 * Store keys as file names: readable ("connector%3Ac-1f…"), reversible, and
 * safe on any local file system. Only [a-z0-9_-] and inner dots stay as they
 * are; everything else, uppercase letters included, becomes %XX of its UTF-8
 * bytes, so that two keys never map to one file on a case-insensitive file
 * system, and no key can be ".", "..", a path, or one of our dot-files.
 */
import { StoreError } from './store-error.ts';

/** Most file systems allow 255 bytes per name; leave room for nothing else. */
const MAX_FILE_NAME_BYTES = 240;

const PLAIN = /^[a-z0-9_-]$/;

export function keyToFileName(key: string): string {
  let name = '';
  for (const char of key) {
    if (PLAIN.test(char) || (char === '.' && name.length > 0)) {
      name += char;
    } else {
      for (const byte of Buffer.from(char, 'utf8')) name += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  if (name.length > MAX_FILE_NAME_BYTES) {
    throw new StoreError('ERR_STORE_KEY_INVALID', `A store key is too long once encoded as a file name (${name.length} > ${MAX_FILE_NAME_BYTES} bytes).`);
  }
  return name;
}

/** The key a file name stands for, or undefined for files that are not ours (dot-files, foreign names). */
export function fileNameToKey(name: string): string | undefined {
  if (name.length === 0 || name.startsWith('.')) return undefined;
  let key: string;
  try {
    key = decodeURIComponent(name);
  } catch {
    return undefined;
  }
  // Only the canonical spelling counts, so a stray "connector%3ac-1" is not a second copy of a key.
  try {
    return keyToFileName(key) === name ? key : undefined;
  } catch {
    return undefined;
  }
}
