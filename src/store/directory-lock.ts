/**
 * One service process per state directory. Two processes sharing one would
 * each keep their own in-process write queues, and compareAndSet would no
 * longer be atomic: they would overwrite each other's connector records.
 *
 * The lock is `<dir>/.lock`, holding "<pid> <token>". It is created whole and
 * atomically with link(2) (which fails if the name exists), so no reader ever
 * sees an empty lock. A lock whose pid is no longer running was left by a
 * crash and is taken over. Limits: pids are per host, so the state directory
 * must be on a local file system, not shared over NFS; and a crashed
 * service's pid reused by an unrelated process keeps the lock until an
 * operator deletes the file (the error names the pid and the file).
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isCode, syncDirectory } from './atomic-file.ts';
import { StoreError } from './store-error.ts';

export const LOCK_NAME = '.lock';
const LOCK_TEMP_PREFIX = '.lock-';
const MAX_ATTEMPTS = 5;

export interface DirectoryLock {
  release(): Promise<void>;
}

export async function acquireDirectoryLock(dir: string): Promise<DirectoryLock> {
  const path = join(dir, LOCK_NAME);
  const content = `${process.pid} ${randomBytes(8).toString('hex')}\n`;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    if (await tryCreate(dir, path, content)) {
      await syncDirectory(dir);
      return { release: () => release(dir, path, content) };
    }
    const held = await readLock(path);
    if (held === undefined) continue; // released meanwhile: try again
    const pid = parsePid(held);
    if (pid !== undefined && isRunning(pid)) {
      throw new StoreError(
        'ERR_STORE_LOCKED',
        `The state directory ${dir} is in use by process ${pid}${pid === process.pid ? ' (this process)' : ''}. ` +
          `Stop that process first; if it is not a Gatehouse service, delete ${path}.`,
      );
    }
    await takeOverStale(dir, path, held);
  }
  throw new StoreError('ERR_STORE_LOCKED', `The state directory ${dir} is contended: its lock ${path} kept changing hands.`);
}

async function tryCreate(dir: string, path: string, content: string): Promise<boolean> {
  const temp = join(dir, `${LOCK_TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
  await writeFile(temp, content, { mode: 0o600, flag: 'wx' });
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    // ENOENT: a store that just took the lock cleaned our temp file away; it holds the lock.
    if (isCode(error, 'EEXIST') || isCode(error, 'ENOENT')) return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function readLock(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isCode(error, 'ENOENT')) return undefined;
    throw error;
  }
}

/**
 * Moves the stale lock aside with rename(2), which only one contender can do
 * to a given file, then checks that what moved is the stale lock it judged:
 * if another process had taken over in between, its fresh lock is put back.
 */
async function takeOverStale(dir: string, path: string, stale: string): Promise<void> {
  const aside = join(dir, `${LOCK_TEMP_PREFIX}stale-${randomBytes(8).toString('hex')}`);
  try {
    await rename(path, aside);
  } catch (error) {
    if (isCode(error, 'ENOENT')) return;
    throw error;
  }
  const moved = await readFile(aside, 'utf8').catch(() => stale);
  if (moved !== stale) await link(aside, path).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

async function release(dir: string, path: string, content: string): Promise<void> {
  // Only our own lock: never delete one that a later process took over.
  if ((await readLock(path)) !== content) return;
  await unlink(path).catch((error: unknown) => {
    if (!isCode(error, 'ENOENT')) throw error;
  });
  await syncDirectory(dir);
}

function parsePid(content: string): number | undefined {
  const match = /^(\d{1,10}) /.exec(content);
  const pid = match ? Number(match[1]) : Number.NaN;
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return isCode(error, 'EPERM');
  }
}

/** Lock temp files a crash may leave behind; removed once the lock is held. */
export function isLockLeftover(name: string): boolean {
  return name.startsWith(LOCK_TEMP_PREFIX);
}
