/**
 * Certificate renewal: a new key and request, posted over mTLS with the
 * current certificate; the answer is checked against the new key, the pair
 * is swapped on disk as one change (state.ts). The caller then hands the
 * new identity to its ServiceClient, so the next call presents it without a
 * restart.
 *
 * The new key is written to the state directory before the request goes out
 * and kept until its certificate is stored. If the answer is lost (the
 * connection broke, the disk filled, the process was killed), the service
 * has already made that certificate the current one and accepts the old one
 * only for its grace period, and only to ask again for the same key: the
 * next attempt, in this process or after a restart, sends the same key and
 * gets the same certificate back. A fresh key would be refused.
 */
import { createPublicKey } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logging/logger.ts';
import { connectorKeyTypeOf, createCsrForKey, createKeyAndCsr, type CreateKeyAndCsrOptions, type KeyAndCsr } from '../pki/create-key-and-csr.ts';
import { DEFAULT_CONNECTOR_KEY_TYPE } from '../pki/keys.ts';
import { writeFileAtomic } from '../store/atomic-file.ts';
import { ConnectorError } from '../errors/connector-error.ts';
import { checkIssued } from './issued-certificate.ts';
import { certificateFingerprint256 } from '../pki/fingerprint.ts';
import { RENEW_PATH } from '../protocol/connector-api.ts';
import type { ServiceClient } from './service-client.ts';
import { readStateFile, STATE_FILES } from './state-files.ts';
import { writeCaChain, writeIdentity, type ClientIdentity, type WriteIdentityOptions } from './state.ts';

export interface RenewOptions {
  readonly client: ServiceClient;
  readonly stateDir: string;
  readonly connectorId: string;
  /** RSA key size, when the current key is RSA. */
  readonly keyBits?: number;
  readonly log?: Logger;
  readonly signal?: AbortSignal;
  /** Passed to writeIdentity (a test stops the swap at a precise step with it). */
  readonly write?: WriteIdentityOptions;
}

/** The key of a renewal whose certificate is not stored yet. */
export const RENEWAL_KEY_FILE = `${STATE_FILES.key}.renewing`;

function publicKeyOf(keyPem: string): string | undefined {
  try {
    return createPublicKey(keyPem).export({ type: 'spki', format: 'pem' }).toString();
  } catch {
    return undefined;
  }
}

/** A new key of the current key's type: a connector registered with an EC or an RSA key keeps it. */
function freshKeyOptions(options: RenewOptions, currentKeyPem: string | undefined): CreateKeyAndCsrOptions {
  let keyType = DEFAULT_CONNECTOR_KEY_TYPE;
  try {
    if (currentKeyPem !== undefined) keyType = connectorKeyTypeOf(currentKeyPem);
  } catch {
    // A key of another type cannot have been certified by the service: the default replaces it.
  }
  return keyType === 'rsa' && options.keyBits !== undefined ? { keyType, bits: options.keyBits } : { keyType };
}

/** The kept renewal key and a request for it, or a fresh key written down before it is used. */
async function renewalKey(options: RenewOptions, currentKeyPem: string | undefined): Promise<KeyAndCsr> {
  const { stateDir, log } = options;
  const kept = await readStateFile(stateDir, RENEWAL_KEY_FILE);
  const keptPublic = kept === undefined ? undefined : publicKeyOf(kept);
  const currentPublic = currentKeyPem === undefined ? undefined : publicKeyOf(currentKeyPem);
  // Equal to the current key: that renewal finished and only the clean-up was lost.
  if (kept !== undefined && keptPublic !== undefined && keptPublic !== currentPublic) {
    try {
      const csrPem = createCsrForKey(kept);
      log?.info({ connectorId: options.connectorId }, 'asking again for the key of an unfinished renewal');
      return { keyPem: kept, csrPem };
    } catch (error) {
      log?.warn({ err: error }, 'the kept renewal key is unusable; making a new one');
    }
  }
  const fresh = createKeyAndCsr(freshKeyOptions(options, currentKeyPem));
  await writeFileAtomic(join(stateDir, RENEWAL_KEY_FILE), fresh.keyPem);
  return fresh;
}

export interface RenewResult {
  readonly identity: ClientIdentity;
  readonly group: string;
  readonly notAfter: string;
  readonly renewalAgeSeconds: number;
  readonly certificateFingerprint256: string;
}

export async function renewCertificate(options: RenewOptions): Promise<RenewResult> {
  const { client, stateDir, log, signal } = options;
  const { keyPem, csrPem } = await renewalKey(options, client.identity?.keyPem);
  log?.info({ connectorId: options.connectorId }, 'renewing the certificate');
  const body = await client.call({ method: 'POST', path: RENEW_PATH, body: { csr: csrPem }, ...(signal ? { signal } : {}) });
  const issued = checkIssued(body, keyPem, 'renewal');
  if (issued.connectorId !== options.connectorId) {
    throw new ConnectorError(
      'ERR_SERVICE_BAD_RESPONSE',
      `The service renewed the certificate of connector ${issued.connectorId}, but this is ${options.connectorId}; nothing was stored.`,
      { reason: 'other_connector', retryable: false },
    );
  }
  const identity: ClientIdentity = Object.freeze({ keyPem, certPem: issued.certificate });
  await writeIdentity(stateDir, identity, options.write);
  await writeCaChain(stateDir, issued.caChainPem);
  await unlink(join(stateDir, RENEWAL_KEY_FILE)).catch(() => undefined);
  const fingerprint = certificateFingerprint256(issued.certificate);
  log?.info({ connectorId: issued.connectorId, notAfter: issued.notAfter, fingerprint256: fingerprint }, 'certificate renewed');
  return Object.freeze({
    identity,
    group: issued.group,
    notAfter: issued.notAfter,
    renewalAgeSeconds: issued.renewalAgeSeconds,
    certificateFingerprint256: fingerprint,
  });
}
