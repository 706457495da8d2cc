import { MissingPeerError } from './errors.ts';

/**
 * Loads an optional peer dependency on first use, so that importing
 * `gatehouse/testing` never fails, and a missing package is named with the
 * command that installs it instead of a bare ERR_MODULE_NOT_FOUND.
 */
export async function importPeer<T>(packageName: string, purpose: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    // Only the peer itself missing: a package it depends on missing is another problem, reported as is.
    const code = (error as NodeJS.ErrnoException | null)?.code;
    const message = error instanceof Error ? error.message : '';
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(`'${packageName}'`)) {
      throw new MissingPeerError(packageName, purpose, error);
    }
    throw error;
  }
}
