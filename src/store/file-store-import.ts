/**
 * Reads the state an earlier version kept as one file per key, so that the
 * first start on SQLite keeps the connector CA and registry. The files are
 * only read, never removed: going back to that version finds them as it left
 * them (without what changed since).
 *
 * The format: a file's name is its key with everything but [a-z0-9_-] and
 * inner dots written as %XX of its UTF-8 bytes (uppercase hex); its content
 * is the value. Dot-files (the lock, temp files of an interrupted write) and
 * names not in that canonical spelling were never keys.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_STORE_VALUE_BYTES } from '../limits.ts';
import { STATE_DATABASE_FILE } from './sqlite-database.ts';
import { checkKey, checkValue } from './store-checks.ts';
import { StoreError } from './store-error.ts';

const PLAIN = /^[a-z0-9_-]$/;

/** The keys and values in `dir`, in file-name order; none when it holds no such files. */
export function importFileStore(dir: string): Array<[string, string]> {
  const entries: Array<[string, string]> = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile() || entry.name.startsWith(STATE_DATABASE_FILE)) continue;
    const key = fileNameToKey(entry.name);
    if (key === undefined) continue;
    entries.push([key, readValue(join(dir, entry.name))]);
  }
  return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function readValue(path: string): string {
  const bytes = readFileSync(path);
  let value: string;
  try {
    if (bytes.length > MAX_STORE_VALUE_BYTES) throw new Error(`larger than ${MAX_STORE_VALUE_BYTES} bytes`);
    value = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    checkValue(value);
  } catch (error) {
    // Refused rather than skipped: a dropped CA would silently invalidate every connector.
    throw new StoreError(
      'ERR_STORE_UNUSABLE',
      `The state file ${path} cannot be imported: it is not a value this store wrote. Move it away to start without it.`,
      {
        cause: error,
      },
    );
  }
  return value;
}

function keyToFileName(key: string): string {
  let name = '';
  for (const char of key) {
    if (PLAIN.test(char) || (char === '.' && name.length > 0)) {
      name += char;
    } else {
      for (const byte of Buffer.from(char, 'utf8')) name += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return name;
}

function fileNameToKey(name: string): string | undefined {
  if (name.startsWith('.')) return undefined;
  let key: string;
  try {
    key = decodeURIComponent(name);
    checkKey(key);
  } catch {
    return undefined;
  }
  // Only the canonical spelling counts, so a stray "connector%3ac-1" is not a second copy of a key.
  return keyToFileName(key) === name ? key : undefined;
}
