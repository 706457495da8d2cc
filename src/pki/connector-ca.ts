/**
 * The service's connector CA: made once on first start and kept in the Store,
 * it signs connectors' certificate requests (client certificates for mTLS)
 * and, in development, the connector listener's own server certificate.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { systemClock, type Clock } from '../clock.ts';
import { CERT_BACKDATE_MS, DEFAULT_CONNECTOR_CA_VALID_DAYS } from '../limits.ts';
import { certificateFromDer, certificateKeyInfo, DAY_MS, extension, utf8Attribute, wholeSeconds } from './certificate-fields.ts';
import type { VerifiedCsr } from './csr.ts';
import { CaError, PkiArgumentError } from './errors.ts';
import { sha256Hex } from './fingerprint.ts';
import { certificateDer, signCertificate, subjectKeyIdentifierExtension, subjectPublicKeyInfo } from './forge-der.ts';
import { checkValidDays, issueLeaf, type IssuedCertificate, type IssueOptions, type SigningCa } from './issue-certificate.ts';
import { decodePem, encodePem } from './pem.ts';
import { generateRsaKey } from './keys.ts';
import { randomSerialHex } from './serial.ts';
import { verifyClientCertificate, type ClientCertificateVerdict } from './verify-client-certificate.ts';

export type { IssuedCertificate, IssueOptions } from './issue-certificate.ts';
export type { ClientCertificateRefusal, ClientCertificateVerdict } from './verify-client-certificate.ts';

/** What the Store keeps under "ca". The key is PKCS #8 PEM: keep it 0600. */
export interface CaMaterial {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface CreateConnectorCaOptions {
  readonly commonName?: string;
  /** Default 10 years. */
  readonly validDays?: number;
  readonly clock?: Clock;
}

export interface ConnectorSubject {
  /** Becomes the certificate's CN. */
  readonly connectorId: string;
  /** Becomes the certificate's OU. */
  readonly group: string;
}

const CA_KEY_BITS = 3072;
const SERVER_KEY_BITS = 3072;
// ub-common-name (RFC 5280 App. A) and the config's connectorGroup rule: no DN metacharacters.
const IDENTIFIER = /^[A-Za-z0-9._-]{1,64}$/;
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export function createConnectorCa(options: CreateConnectorCaOptions = {}): CaMaterial {
  const commonName = options.commonName ?? 'Gatehouse Connector CA';
  const validDays = options.validDays ?? DEFAULT_CONNECTOR_CA_VALID_DAYS;
  const now = (options.clock ?? systemClock)();
  if (commonName.length === 0 || commonName.length > 64) {
    throw new PkiArgumentError('commonName', 'must be 1 to 64 characters');
  }
  checkValidDays(validDays, 'validDays');

  const key = generateRsaKey(CA_KEY_BITS);
  const spki = subjectPublicKeyInfo(key.publicKey);
  const cert = forge.pki.createCertificate();
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = wholeSeconds(now - CERT_BACKDATE_MS);
  cert.validity.notAfter = wholeSeconds(now + validDays * DAY_MS);
  const subject = [utf8Attribute('commonName', commonName), utf8Attribute('organizationName', 'Gatehouse')];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    // pathLen 0: the CA signs connectors and listeners, never another CA.
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    subjectKeyIdentifierExtension(spki),
  ]);
  signCertificate(cert, key.privateKey, spki);
  return { certPem: encodePem('CERTIFICATE', certificateDer(cert)), keyPem: key.keyPem };
}

export class ConnectorCa {
  readonly #ca: SigningCa;
  readonly #certPem: string;
  readonly #fingerprint256: string;

  /** Throws a CaError (ERR_CA_INVALID) when the material is not a usable CA certificate and its key. */
  constructor(material: CaMaterial) {
    const decoded = decodePem(material.certPem, ['CERTIFICATE']);
    if (!decoded.ok) throw invalid(`the CA certificate cannot be read: ${decoded.problem}`);
    let cert: forge.pki.Certificate;
    let key: KeyObject;
    try {
      cert = certificateFromDer(decoded.der);
    } catch (error) {
      throw invalid('the CA certificate cannot be read', error);
    }
    try {
      key = createPrivateKey(material.keyPem);
    } catch (error) {
      throw invalid('the CA key cannot be read', error);
    }
    checkCaPair(cert, key);
    const skiHex = extension(cert, 'subjectKeyIdentifier')?.['subjectKeyIdentifier'];
    this.#ca = {
      cert,
      key,
      keyIdentifier: typeof skiHex === 'string' ? forge.util.hexToBytes(skiHex) : cert.generateSubjectKeyIdentifier().getBytes(),
    };
    this.#certPem = encodePem('CERTIFICATE', decoded.der);
    this.#fingerprint256 = sha256Hex(decoded.der);
  }

  /** The CA certificate: the trust anchor handed to connectors and given to the TLS listener as `ca`. */
  get certPem(): string {
    return this.#certPem;
  }

  get fingerprint256(): string {
    return this.#fingerprint256;
  }

  get notAfter(): Date {
    return this.#ca.cert.validity.notAfter;
  }

  /**
   * Signs a connector's verified request. The request's own subject and
   * requested extensions are ignored (RFC 2986 leaves that to the CA): the
   * service alone names the connector and its group.
   */
  issueClientCertificate(csr: VerifiedCsr, subject: ConnectorSubject, options: IssueOptions): IssuedCertificate {
    checkIdentifier(subject.connectorId, 'connectorId');
    checkIdentifier(subject.group, 'group');
    return issueLeaf(this.#ca, {
      ...options,
      subjectPublicKeyInfo: subjectPublicKeyInfo(createPublicKey(csr.publicKeyPem)),
      subject: [utf8Attribute('commonName', subject.connectorId), utf8Attribute('organizationalUnitName', subject.group)],
      extensions: [
        // RFC 5480 §3: an EC key's certificate must not assert keyEncipherment; RSA keys keep it for TLS 1.2 key transport.
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: csr.keyType === 'rsa', critical: true },
        { name: 'extKeyUsage', clientAuth: true },
      ],
    });
  }

  /** For development: a key and certificate for the connector-facing TLS listener. */
  issueServerCertificate(hostnames: readonly string[], options: IssueOptions): IssuedCertificate & { keyPem: string } {
    if (hostnames.length === 0) throw new PkiArgumentError('hostnames', 'must name at least one host');
    for (const hostname of hostnames) {
      if (isIP(hostname) === 0 && !DNS_NAME.test(hostname)) {
        throw new PkiArgumentError('hostnames', `"${hostname}" is neither an IP address nor a DNS name`);
      }
    }
    const key = generateRsaKey(SERVER_KEY_BITS);
    const issued = issueLeaf(this.#ca, {
      ...options,
      subjectPublicKeyInfo: subjectPublicKeyInfo(key.publicKey),
      subject: [utf8Attribute('commonName', hostnames[0] ?? '')],
      extensions: [
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [...new Set(hostnames)].map((host) => (isIP(host) === 0 ? { type: 2, value: host } : { type: 7, ip: host })),
        },
      ],
    });
    return { ...issued, keyPem: key.keyPem };
  }

  /** Verdict on a presented client certificate at `now` (ms). Revocation is the registry's job, not the CA's. */
  verifyClientCertificate(certificate: string | Uint8Array, now: number): ClientCertificateVerdict {
    return verifyClientCertificate(this.#ca.cert, certificate, now);
  }
}

function checkCaPair(cert: forge.pki.Certificate, key: KeyObject): void {
  if (key.asymmetricKeyType !== 'rsa') throw invalid('the CA key is not an RSA key');
  const certSpki = certificateKeyInfo(cert);
  const keySpki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  if (!certSpki.equals(keySpki)) throw invalid('the CA key does not belong to the CA certificate');
  if (extension(cert, 'basicConstraints')?.['cA'] !== true) throw invalid('the certificate is not a CA certificate');
  if (extension(cert, 'keyUsage')?.['keyCertSign'] === false) throw invalid('the CA certificate may not sign certificates');
  if (!isSelfSigned(cert)) throw invalid('the CA certificate is not self-signed');
}

function isSelfSigned(cert: forge.pki.Certificate): boolean {
  try {
    return cert.verify(cert);
  } catch {
    return false;
  }
}

function checkIdentifier(value: string, argument: string): void {
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) {
    throw new PkiArgumentError(argument, 'must be 1 to 64 letters, digits, ".", "_" or "-"');
  }
}

function invalid(problem: string, cause?: unknown): CaError {
  return new CaError('ERR_CA_INVALID', `The connector CA material is not usable: ${problem}.`, cause === undefined ? undefined : { cause });
}
