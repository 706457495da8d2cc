import { readFile } from 'node:fs/promises';
import { MAX_CA_FILE_BYTES } from '../limits.ts';
import { certificateBundleToPem, parseCertificateBundle } from '../pki/pem.ts';
import { ConnectorError } from '../errors/connector-error.ts';

/**
 * Reads a CA bundle named on the command line (--ca-file, --idp-ca-file) and
 * says which file and what is wrong with it when it cannot be used.
 */
export async function readCaFile(path: string, option: string): Promise<string> {
  let text: string;
  try {
    const bytes = await readFile(path);
    if (bytes.length > MAX_CA_FILE_BYTES) throw Object.assign(new Error('file too large'), { code: 'EFBIG' });
    text = bytes.toString('utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    throw new ConnectorError('ERR_FILE_INVALID', `${option} ${path}: cannot read it (${code}).`, { reason: code, cause: error });
  }
  const bundle = parseCertificateBundle(text);
  if (!bundle.ok) {
    throw new ConnectorError('ERR_FILE_INVALID', `${option} ${path}: not a PEM bundle of CA certificates (it ${bundle.problem}).`, { reason: 'not_pem' });
  }
  return certificateBundleToPem(bundle.certificates);
}
