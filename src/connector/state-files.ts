/** Names of the state files, and reading them with errors that name the file. */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConnectorError } from '../errors/connector-error.ts';
import { MAX_STATE_FILE_BYTES } from '../limits.ts';

export const STATE_FILES = Object.freeze({
  record: 'connector.json',
  key: 'connector.key',
  certificate: 'connector.crt',
  caChain: 'ca.crt',
  serviceCa: 'service-ca.crt',
  allowList: 'allow-list.json',
});

export function stateError(dir: string, file: string, problem: string, cause?: unknown): ConnectorError {
  return new ConnectorError('ERR_STATE_INVALID', `${join(dir, file)}: ${problem}`, { reason: file, cause });
}

export async function readStateFile(dir: string, file: string): Promise<string | undefined> {
  const path = join(dir, file);
  try {
    const info = await stat(path);
    if (!info.isFile()) throw stateError(dir, file, 'is not a regular file.');
    if (info.size > MAX_STATE_FILE_BYTES) throw stateError(dir, file, `is ${info.size} bytes, larger than any state file the connector writes.`);
    return await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof ConnectorError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw stateError(dir, file, `cannot read it (${code ?? 'EIO'}).`, error);
  }
}

export async function requireStateFile(dir: string, file: string): Promise<string> {
  const text = await readStateFile(dir, file);
  if (text === undefined) {
    throw stateError(dir, file, 'is missing. The state directory is incomplete: register again with --force.');
  }
  return text;
}
