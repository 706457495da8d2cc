import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConnectorError } from './errors.ts';
import { MAX_CA_FILE_BYTES } from '../limits.ts';

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, each parsed; throws if there is none or one is broken. */
export function parseCertificateBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error('no PEM certificate found');
  return blocks.map((block) => new X509Certificate(block));
}

/** Normalised PEM bundle: the certificate blocks only, one per line group. */
export function certificateBundleToPem(certificates: readonly X509Certificate[]): string {
  return certificates.map((certificate) => certificate.toString().trim()).join('\n') + '\n';
}

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
  try {
    return certificateBundleToPem(parseCertificateBundle(text));
  } catch (error) {
    throw new ConnectorError('ERR_FILE_INVALID', `${option} ${path}: not a PEM bundle of CA certificates (${(error as Error).message}).`, {
      reason: 'not_pem',
      cause: error,
    });
  }
}
