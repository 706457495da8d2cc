/** Checks every store implementation applies, so that tests on memory hold for disk. */
import { MAX_STORE_KEY_LENGTH, MAX_STORE_VALUE_BYTES } from '../limits.ts';
import { StoreError } from './store-error.ts';

export function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_STORE_KEY_LENGTH) {
    throw new StoreError('ERR_STORE_KEY_INVALID', `A store key must be a string of 1 to ${MAX_STORE_KEY_LENGTH} characters.`);
  }
  // A lone surrogate would be stored as U+FFFD, so two different keys would share a row.
  if (!key.isWellFormed()) throw new StoreError('ERR_STORE_KEY_INVALID', 'A store key must be well-formed Unicode.');
}

export function checkPrefix(prefix: string): void {
  if (typeof prefix !== 'string' || prefix.length > MAX_STORE_KEY_LENGTH) {
    throw new StoreError('ERR_STORE_KEY_INVALID', `A store prefix must be a string of at most ${MAX_STORE_KEY_LENGTH} characters.`);
  }
  // Stored keys are well-formed: a lone surrogate would match differently in memory and on disk.
  if (!prefix.isWellFormed()) throw new StoreError('ERR_STORE_KEY_INVALID', 'A store prefix must be well-formed Unicode.');
}

export function checkValue(value: string): void {
  if (typeof value !== 'string' || !value.isWellFormed()) {
    throw new StoreError('ERR_STORE_VALUE_INVALID', 'A store value must be a well-formed string (JSON).');
  }
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_STORE_VALUE_BYTES) {
    throw new StoreError('ERR_STORE_VALUE_INVALID', `A store value of ${bytes} bytes is above the limit of ${MAX_STORE_VALUE_BYTES}.`);
  }
}
