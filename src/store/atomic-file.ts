/**
 * Crash-safe replacement of a file, for the connector's state directory:
 * write a temp file in the same directory (rename is atomic only within one
 * file system), fsync it, rename it over the target, fsync the directory. A reader, or a restart after a crash at
 * any point, sees the old content or the new, never a mix; the directory
 * fsync makes the rename itself survive a power cut.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Temp files start with a dot, so that nothing reading the directory takes one for a state file. */
export const TEMP_PREFIX = '.tmp-';

export async function writeFileAtomic(path: string, data: string, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
  try {
    // 'wx' refuses to follow a planted symlink or reuse an existing file.
    const handle = await open(temp, 'wx', mode);
    try {
      // The umask can only remove bits; chmod states the mode outright.
      await handle.chmod(mode);
      await handle.writeFile(data, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dir);
}

/** Renames within one directory and makes the rename durable. */
export async function renameDurably(from: string, to: string): Promise<void> {
  await rename(from, to);
  await syncDirectory(dirname(to));
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

/**
 * Temp files left by a crash hold a value that was never committed: they are
 * garbage. Only for the one process that writes in `dir`.
 */
export async function removeTempFiles(dir: string): Promise<number> {
  let removed = 0;
  for (const name of await readdir(dir)) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    await unlink(join(dir, name)).catch(() => undefined);
    removed += 1;
  }
  return removed;
}
