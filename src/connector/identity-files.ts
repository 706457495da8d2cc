/**
 * The key and certificate live in two files but must change together: a
 * crash must never leave a key beside a certificate for another key. A swap
 * therefore goes through `.next` files, in four steps:
 *
 *   1. write `connector.key.next` (atomically, src/store/atomic-file.ts)
 *   2. write `connector.crt.next` (atomically)
 *   3. rename `connector.key.next` → `connector.key`
 *   4. rename `connector.crt.next` → `connector.crt`
 *
 * Whatever step a crash interrupts, loading finds a usable pair: a complete
 * `connector.crt.next` whose key is `connector.key.next` (after step 2) or
 * already `connector.key` (after step 3) means the new pair wins and the swap
 * is finished; a lone `connector.key.next` (after step 1) is discarded and the
 * old pair stays.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { renameDurably, writeFileAtomic } from '../store/atomic-file.ts';
import { ConnectorError } from '../errors/connector-error.ts';
import { readStateFile, requireStateFile, stateError, STATE_FILES } from './state-files.ts';

const KEY_NEXT = `${STATE_FILES.key}.next`;
const CERT_NEXT = `${STATE_FILES.certificate}.next`;

/** The TLS client identity: a private key and the certificate for it. */
export interface ClientIdentity {
  readonly keyPem: string;
  readonly certPem: string;
}

export type IdentitySwapStep = 'key-next-written' | 'cert-next-written' | 'key-renamed' | 'cert-renamed';

export interface WriteIdentityOptions {
  /** Called after each step of the swap; lets a test stop the process at a precise point. */
  readonly afterStep?: (step: IdentitySwapStep) => void | Promise<void>;
}

export interface LoadOptions {
  /**
   * Finish an interrupted swap and delete leftovers on disk. Off for readers
   * that may run beside `run` (status), which then only pick the right pair.
   */
  readonly repair?: boolean;
}

function parseKey(dir: string, file: string, pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw stateError(dir, file, 'is not a PEM private key. Register again with --force.', error);
  }
}

function parseCertificate(dir: string, file: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw stateError(dir, file, 'is not a PEM certificate. Register again with --force.', error);
  }
}

/** Whether a certificate was issued for this private key. */
export function certificateMatchesKey(certPem: string, keyPem: string): boolean {
  try {
    return new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

async function checkKeyFileMode(dir: string, file: string): Promise<void> {
  if (process.platform === 'win32') return;
  const { mode } = await stat(join(dir, file));
  if ((mode & 0o077) !== 0) {
    throw new ConnectorError(
      'ERR_STATE_INSECURE',
      `${join(dir, file)} is readable by other users (mode ${(mode & 0o777).toString(8).padStart(4, '0')}). Run: chmod 600 ${join(dir, file)}`,
      { reason: file },
    );
  }
}

/**
 * Reads the key and certificate, finishing or discarding an interrupted swap
 * (see the module comment), and checks that the certificate is for the key.
 */
export async function loadIdentity(dir: string, options: LoadOptions = {}): Promise<ClientIdentity> {
  const repair = options.repair ?? false;
  const [keyNext, certNext] = await Promise.all([readStateFile(dir, KEY_NEXT), readStateFile(dir, CERT_NEXT)]);

  if (certNext !== undefined) {
    if (keyNext !== undefined && certificateMatchesKey(certNext, keyNext)) {
      if (repair) {
        await renameDurably(join(dir, KEY_NEXT), join(dir, STATE_FILES.key));
        await renameDurably(join(dir, CERT_NEXT), join(dir, STATE_FILES.certificate));
      }
      return Object.freeze({ keyPem: keyNext, certPem: certNext });
    }
    const key = await readStateFile(dir, STATE_FILES.key);
    if (key !== undefined && certificateMatchesKey(certNext, key)) {
      if (repair) {
        await unlink(join(dir, KEY_NEXT)).catch(() => undefined);
        await renameDurably(join(dir, CERT_NEXT), join(dir, STATE_FILES.certificate));
      }
      await checkKeyFileMode(dir, STATE_FILES.key);
      return Object.freeze({ keyPem: key, certPem: certNext });
    }
  }
  if (repair && (keyNext !== undefined || certNext !== undefined)) {
    // A swap that stopped before its new pair was complete: the old pair stands.
    await unlink(join(dir, KEY_NEXT)).catch(() => undefined);
    await unlink(join(dir, CERT_NEXT)).catch(() => undefined);
  }

  const keyPem = await requireStateFile(dir, STATE_FILES.key);
  const certPem = await requireStateFile(dir, STATE_FILES.certificate);
  const key = parseKey(dir, STATE_FILES.key, keyPem);
  const certificate = parseCertificate(dir, STATE_FILES.certificate, certPem);
  if (!certificate.checkPrivateKey(key)) {
    throw stateError(dir, STATE_FILES.certificate, `is not the certificate of ${STATE_FILES.key} (the pair does not match). Register again with --force.`);
  }
  await checkKeyFileMode(dir, STATE_FILES.key);
  return Object.freeze({ keyPem, certPem });
}

/** Replaces the key and certificate as one change (see the module comment). */
export async function writeIdentity(dir: string, identity: ClientIdentity, options: WriteIdentityOptions = {}): Promise<void> {
  if (!certificateMatchesKey(identity.certPem, identity.keyPem)) {
    throw new TypeError('writeIdentity: the certificate is not for this key');
  }
  const step = async (name: IdentitySwapStep): Promise<void> => {
    await options.afterStep?.(name);
  };
  await writeFileAtomic(join(dir, KEY_NEXT), identity.keyPem);
  await step('key-next-written');
  await writeFileAtomic(join(dir, CERT_NEXT), identity.certPem);
  await step('cert-next-written');
  await renameDurably(join(dir, KEY_NEXT), join(dir, STATE_FILES.key));
  await step('key-renamed');
  await renameDurably(join(dir, CERT_NEXT), join(dir, STATE_FILES.certificate));
  await step('cert-renamed');
}
