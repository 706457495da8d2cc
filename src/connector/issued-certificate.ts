/**
 * What the service answers to register and renew (docs/connector-protocol.md),
 * checked against the key this connector holds.
 */
import { X509Certificate } from 'node:crypto';
import type { z } from 'zod';
import { certificateBundleToPem, parseCertificateBundle } from '../pki/pem.ts';
import { ConnectorError } from '../errors/connector-error.ts';
import { issuedCertificateSchema } from '../protocol/issued-certificate.ts';
import { certificateMatchesKey } from './state.ts';

export type IssuedCertificate = z.infer<typeof issuedCertificateSchema>;

/**
 * Validates what the service issued against the key we hold: a service (or
 * something in between) that answers with someone else's certificate must
 * not leave us with an unusable identity on disk.
 */
export function checkIssued(body: unknown, keyPem: string, what: string): IssuedCertificate & { caChainPem: string } {
  const parsed = issuedCertificateSchema.safeParse(body);
  if (!parsed.success) {
    throw new ConnectorError(
      'ERR_SERVICE_BAD_RESPONSE',
      `The service's answer to ${what} is not usable (${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')}).`,
      { reason: 'issued_certificate' },
    );
  }
  const issued = parsed.data;
  let caChainPem: string;
  try {
    new X509Certificate(issued.certificate);
    caChainPem = certificateBundleToPem(issued.caChain.flatMap((pem) => certificatesOf(pem)));
  } catch (error) {
    throw new ConnectorError('ERR_SERVICE_BAD_RESPONSE', `The service's answer to ${what} holds a certificate that cannot be read.`, {
      reason: 'certificate',
      cause: error,
    });
  }
  if (!certificateMatchesKey(issued.certificate, keyPem)) {
    throw new ConnectorError('ERR_SERVICE_BAD_RESPONSE', `The service's answer to ${what} holds a certificate for another key; nothing was stored.`, {
      reason: 'key_mismatch',
    });
  }
  return { ...issued, caChainPem };
}

function certificatesOf(pem: string): X509Certificate[] {
  const bundle = parseCertificateBundle(pem);
  if (!bundle.ok) throw new Error(`the CA chain ${bundle.problem}`);
  return bundle.certificates;
}
