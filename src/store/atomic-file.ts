/**
 * Crash-safe replacement of a file: write a temp file in the same directory,
 * fsync it, rename it over the target, fsync the directory. rename(2) is
 * atomic on POSIX file systems, so a reader (or a restart after a crash) sees
 * the old content or the new, never a mix; the directory fsync makes the
 * rename itself survive a power cut.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Temp files start with a dot, which no encoded key does, so they are never listed as keys. */
export const TEMP_PREFIX = '.tmp-';
const FILE_MODE = 0o600;

export async function writeFileAtomic(dir: string, name: string, data: string): Promise<void> {
  const temp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
  try {
    const handle = await open(temp, 'wx', FILE_MODE);
    try {
      // The umask can only remove bits; chmod states the mode outright.
      await handle.chmod(FILE_MODE);
      await handle.writeFile(data, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, join(dir, name));
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dir);
}

export async function removeFile(dir: string, name: string): Promise<void> {
  try {
    await unlink(join(dir, name));
  } catch (error) {
    if (isCode(error, 'ENOENT')) return;
    throw error;
  }
  await syncDirectory(dir);
}

export async function syncDirectory(dir: string): Promise<void> {
  // Windows cannot open a directory for fsync; its renames are journaled by NTFS.
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Temp files left by a crash hold a value that was never committed: they are garbage. */
export async function removeTempFiles(dir: string): Promise<number> {
  let removed = 0;
  for (const name of await readdir(dir)) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    await unlink(join(dir, name)).catch(() => undefined);
    removed += 1;
  }
  return removed;
}

export function isCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
