/**
 * Signs an end-entity certificate with the connector CA, for an RSA or an EC
 * key: the one issuing path. Internal to connector-ca.ts.
 */
import type { KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { CERT_BACKDATE_MS } from '../limits.ts';
import { DAY_MS, wholeSeconds } from './certificate-fields.ts';
import { CaError, PkiArgumentError } from './errors.ts';
import { sha256Hex } from './fingerprint.ts';
import { certificateDer, signCertificate, subjectKeyIdentifierExtension } from './forge-der.ts';
import { encodePem } from './pem.ts';
import { randomSerialHex } from './serial.ts';

export interface IssuedCertificate {
  readonly certPem: string;
  /** Lowercase hex, as forge and our records write it. */
  readonly serialNumber: string;
  /** SHA-256 over the DER, lowercase hex without colons. */
  readonly fingerprint256: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface IssueOptions {
  readonly validDays: number;
  /** Milliseconds since the epoch. */
  readonly now: number;
}

export interface SigningCa {
  readonly cert: forge.pki.Certificate;
  readonly key: KeyObject;
  /** The CA's subjectKeyIdentifier, as forge bytes, for each leaf's authorityKeyIdentifier. */
  readonly keyIdentifier: string;
}

export interface LeafRequest extends IssueOptions {
  /** The subject's key as SubjectPublicKeyInfo DER (RSA or EC). */
  readonly subjectPublicKeyInfo: Uint8Array;
  readonly subject: forge.pki.CertificateField[];
  /** forge extension descriptions; basic constraints and key identifiers are added here. */
  readonly extensions: readonly object[];
}

export const MAX_VALID_DAYS = 36_500;

export function checkValidDays(validDays: number, argument: string): void {
  if (!Number.isFinite(validDays) || validDays <= 0 || validDays > MAX_VALID_DAYS) {
    throw new PkiArgumentError(argument, `must be a number of days above 0 and at most ${MAX_VALID_DAYS}`);
  }
}

export function issueLeaf(ca: SigningCa, request: LeafRequest): IssuedCertificate {
  checkValidDays(request.validDays, 'validDays');
  if (!Number.isFinite(request.now)) throw new PkiArgumentError('now', 'must be milliseconds since the epoch');
  const caNotAfter = ca.cert.validity.notAfter.getTime();
  if (request.now >= caNotAfter) {
    throw new CaError('ERR_CA_EXPIRED', `The connector CA expired at ${new Date(caNotAfter).toISOString()}; make a new CA and register the connectors again.`);
  }

  const cert = forge.pki.createCertificate();
  cert.serialNumber = randomSerialHex();
  // A leaf never outlives its CA. Its start is left alone: RFC 5280 §6.1.3 checks
  // each certificate's window on its own, and callers may backdate on purpose.
  const notBefore = wholeSeconds(request.now - CERT_BACKDATE_MS);
  const notAfter = wholeSeconds(Math.min(request.now + request.validDays * DAY_MS, caNotAfter));
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject(request.subject);
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    ...request.extensions,
    subjectKeyIdentifierExtension(request.subjectPublicKeyInfo),
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.keyIdentifier },
  ]);
  signCertificate(cert, ca.key, request.subjectPublicKeyInfo);
  const der = certificateDer(cert);
  return {
    certPem: encodePem('CERTIFICATE', der),
    serialNumber: cert.serialNumber.toLowerCase(),
    fingerprint256: sha256Hex(der),
    notBefore,
    notAfter,
  };
}
