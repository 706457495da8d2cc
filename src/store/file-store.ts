/**
 * The embedded default Store: one file per key in a private directory.
 *
 * - The directory is mode 0700 and every file 0600: the CA key lives here.
 * - Each write replaces its file atomically (temp file, fsync, rename, fsync
 *   of the directory): after a crash a key holds its old value or its new one.
 * - Writes to one key are queued inside the process, which makes
 *   compareAndSet atomic; `<dir>/.lock` keeps a second process out (see
 *   directory-lock.ts for what it does and does not guarantee).
 */
import { chmod, mkdir, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MAX_STORE_VALUE_BYTES } from '../limits.ts';
import { isCode, removeFile, removeTempFiles, writeFileAtomic } from './atomic-file.ts';
import { acquireDirectoryLock, isLockLeftover, type DirectoryLock } from './directory-lock.ts';
import { fileNameToKey, keyToFileName } from './file-name.ts';
import { KeyedQueue } from './keyed-queue.ts';
import type { Store } from './store.ts';
import { checkKey, checkPrefix, checkValue } from './store-checks.ts';
import { StoreError } from './store-error.ts';

const DIRECTORY_MODE = 0o700;

export class FileStore implements Store {
  readonly #dir: string;
  readonly #lock: DirectoryLock;
  readonly #queue = new KeyedQueue();
  #closed = false;

  private constructor(dir: string, lock: DirectoryLock) {
    this.#dir = dir;
    this.#lock = lock;
  }

  /**
   * Opens (creating it if needed) the state directory and locks it. Rejects
   * with ERR_STORE_LOCKED, naming the pid, when another live process, or this
   * one, has it open; with ERR_STORE_UNUSABLE when it cannot be used.
   */
  static async open(dir: string): Promise<FileStore> {
    const path = resolve(dir);
    await prepareDirectory(path);
    let lock: DirectoryLock;
    try {
      lock = await acquireDirectoryLock(path);
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw new StoreError('ERR_STORE_UNUSABLE', `The state directory ${path} cannot be locked.`, { cause: error });
    }
    try {
      // Only now, holding the lock, is no other process writing temp files here.
      await removeTempFiles(path);
      for (const name of await readdir(path)) {
        if (isLockLeftover(name)) await unlink(join(path, name)).catch(() => undefined);
      }
    } catch (error) {
      await lock.release();
      throw new StoreError('ERR_STORE_UNUSABLE', `The state directory ${path} cannot be cleaned.`, { cause: error });
    }
    return new FileStore(path, lock);
  }

  get directory(): string {
    return this.#dir;
  }

  async get(key: string): Promise<string | undefined> {
    this.#checkOpen();
    checkKey(key);
    return this.#read(keyToFileName(key));
  }

  async put(key: string, value: string): Promise<void> {
    this.#checkOpen();
    checkKey(key);
    checkValue(value);
    const name = keyToFileName(key);
    await this.#queue.run(name, () => writeFileAtomic(join(this.#dir, name), value));
  }

  async delete(key: string): Promise<void> {
    this.#checkOpen();
    checkKey(key);
    const name = keyToFileName(key);
    await this.#queue.run(name, () => removeFile(join(this.#dir, name)));
  }

  async list(prefix: string): Promise<string[]> {
    this.#checkOpen();
    checkPrefix(prefix);
    const keys: string[] = [];
    for (const name of await readdir(this.#dir)) {
      const key = fileNameToKey(name);
      if (key?.startsWith(prefix)) keys.push(key);
    }
    return keys.sort();
  }

  async compareAndSet(key: string, expected: string | undefined, value: string): Promise<boolean> {
    this.#checkOpen();
    checkKey(key);
    checkValue(value);
    const name = keyToFileName(key);
    return this.#queue.run(name, async () => {
      if ((await this.#read(name)) !== expected) return false;
      await writeFileAtomic(join(this.#dir, name), value);
      return true;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.idle();
    await this.#lock.release();
  }

  async #read(name: string): Promise<string | undefined> {
    const path = join(this.#dir, name);
    try {
      // A file too large to be ours is not read into memory.
      if ((await stat(path)).size > MAX_STORE_VALUE_BYTES) {
        throw new StoreError('ERR_STORE_VALUE_INVALID', `The stored file ${path} is larger than any value the store writes.`);
      }
      return await readFile(path, 'utf8');
    } catch (error) {
      if (isCode(error, 'ENOENT')) return undefined;
      throw error;
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreError('ERR_STORE_CLOSED', 'The store is closed.');
  }
}

async function prepareDirectory(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true, mode: DIRECTORY_MODE });
    const info = await stat(path);
    if (!info.isDirectory()) throw new Error('not a directory');
    // An existing directory is tightened too: it is about to hold the CA's private key.
    if ((info.mode & 0o777) !== DIRECTORY_MODE) await chmod(path, DIRECTORY_MODE);
  } catch (error) {
    throw new StoreError('ERR_STORE_UNUSABLE', `The state directory ${path} cannot be used: it must be a directory this process can create and own.`, {
      cause: error,
    });
  }
}
