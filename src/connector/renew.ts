/**
 * Certificate renewal: a new key and request, posted over mTLS with the
 * current certificate; the answer is checked against the new key, the pair
 * is swapped on disk as one change (state.ts). The caller then hands the
 * new identity to its ServiceClient, so the next call presents it without a
 * restart (field lesson 22).
 */
import type { Logger } from '../logging/logger.ts';
import { createKeyAndCsr } from '../pki/csr.ts';
import { ConnectorError } from './errors.ts';
import { certificateFingerprint, checkIssued } from './issued-certificate.ts';
import { RENEW_PATH } from './protocol.ts';
import type { ServiceClient } from './service-client.ts';
import { writeCaChain, writeIdentity, type ClientIdentity } from './state.ts';

export interface RenewOptions {
  readonly client: ServiceClient;
  readonly stateDir: string;
  readonly connectorId: string;
  readonly keyBits?: number;
  readonly log?: Logger;
  readonly signal?: AbortSignal;
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
  const { keyPem, csrPem } = createKeyAndCsr(options.keyBits === undefined ? {} : { bits: options.keyBits });
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
  await writeIdentity(stateDir, identity);
  await writeCaChain(stateDir, issued.caChainPem);
  const fingerprint = certificateFingerprint(issued.certificate);
  log?.info({ connectorId: issued.connectorId, notAfter: issued.notAfter, fingerprint256: fingerprint }, 'certificate renewed');
  return Object.freeze({
    identity,
    group: issued.group,
    notAfter: issued.notAfter,
    renewalAgeSeconds: issued.renewalAgeSeconds,
    certificateFingerprint256: fingerprint,
  });
}
