import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Prefix and suffix of the temporary files `writeFileAtomic` leaves behind if killed. */
export const TEMP_FILE_PATTERN = /^\..+\.[0-9a-f]{12}\.tmp$/;

/**
 * fsync of a directory makes a rename in it durable: without it a power loss
 * right after rename() can bring back the old entry (or none).
 */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` so that a reader, or a restart after a crash at any point,
 * sees either the old content or the new one, never a mix: write a temporary
 * file in the same directory (rename is atomic only within one file system),
 * fsync it, rename it over the target, fsync the directory.
 */
export async function writeFileAtomic(path: string, data: string, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  // 'wx' refuses to follow a planted symlink or reuse an existing file.
  const handle = await open(temp, 'wx', mode);
  try {
    try {
      // The mode given to open() is narrowed by the umask; chmod sets it exactly.
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
  await fsyncDirectory(dir);
}

/** Renames within one directory and makes the rename durable. */
export async function renameDurably(from: string, to: string): Promise<void> {
  await rename(from, to);
  await fsyncDirectory(dirname(to));
}
