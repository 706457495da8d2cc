/**
 * The connector's side of registration and renewal: a fresh key pair and a
 * PKCS#10 request for it. The key never leaves the connector; the request
 * only proves possession, since the service ignores its subject.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { MAX_CSR_RSA_BITS, MIN_CSR_RSA_BITS } from '../limits.ts';
import { PkiArgumentError } from './errors.ts';
import { forgePublicKey, signCertificationRequest } from './forge-der.ts';
import { generateRsaKey } from './rsa-key.ts';

export interface CreateKeyAndCsrOptions {
  /** RSA modulus size; default 3072, never below 2048. */
  readonly bits?: number;
}

export interface KeyAndCsr {
  /** PKCS #8 PEM private key: store it with mode 0600. */
  readonly keyPem: string;
  readonly csrPem: string;
}

const DEFAULT_BITS = 3072;
const SUBJECT_COMMON_NAME = 'gatehouse-connector';

export function createKeyAndCsr(options: CreateKeyAndCsrOptions = {}): KeyAndCsr {
  const bits = options.bits ?? DEFAULT_BITS;
  if (!Number.isInteger(bits) || bits < MIN_CSR_RSA_BITS || bits > MAX_CSR_RSA_BITS || bits % 8 !== 0) {
    throw new PkiArgumentError('bits', `must be a multiple of 8 from ${MIN_CSR_RSA_BITS} to ${MAX_CSR_RSA_BITS} (default ${DEFAULT_BITS})`);
  }
  const key = generateRsaKey(bits);
  return { keyPem: key.keyPem, csrPem: csrFor(key.privateKey, key.publicKey) };
}

/**
 * A request for a key the connector already holds: a renewal asked again
 * after its answer was lost must name the same key to get the same
 * certificate back.
 */
export function createCsrForKey(keyPem: string): string {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch {
    throw new PkiArgumentError('keyPem', 'must be a PEM private key');
  }
  if (privateKey.asymmetricKeyType !== 'rsa') throw new PkiArgumentError('keyPem', 'must be an RSA private key');
  return csrFor(privateKey, createPublicKey(privateKey));
}

function csrFor(privateKey: KeyObject, publicKey: KeyObject): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forgePublicKey(publicKey);
  csr.setSubject([{ name: 'commonName', value: SUBJECT_COMMON_NAME }]);
  signCertificationRequest(csr, privateKey);
  return forge.pki.certificationRequestToPem(csr);
}
