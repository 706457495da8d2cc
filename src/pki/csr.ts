/**
 * Checks a connector's PKCS#10 certificate request (RFC 2986) before the CA
 * signs it. Every input a client can send ends in a VerifiedCsr or a CsrError
 * with a code and a sentence saying what is wrong and what is required.
 */
import { constants, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { MAX_CSR_PEM_BYTES, MAX_CSR_RSA_BITS, MIN_CSR_RSA_BITS } from '../limits.ts';
import { readCertificationRequest, type CertificationRequestParts } from './csr-structure.ts';
import { CsrError } from './errors.ts';
import { sha256Hex } from './fingerprint.ts';
import { decodePem } from './pem.ts';
import { parseDer } from './forge-der.ts';
import { EC_CURVE, type ConnectorKeyType } from './keys.ts';
import {
  OID_CURVE_P256,
  OID_CURVE_P384,
  OID_CURVE_P521,
  OID_CURVE_SECP256K1,
  OID_EC_PUBLIC_KEY,
  OID_ECDSA_WITH_SHA256,
  OID_ECDSA_WITH_SHA384,
  OID_ECDSA_WITH_SHA512,
  OID_ED25519,
  OID_RSA_ENCRYPTION,
  OID_RSASSA_PSS,
  OID_SHA256_WITH_RSA,
  OID_SHA384_WITH_RSA,
  OID_SHA512_WITH_RSA,
} from './oids.ts';

export { createKeyAndCsr, type CreateKeyAndCsrOptions, type KeyAndCsr } from './create-key-and-csr.ts';
export type { ConnectorKeyType } from './keys.ts';

/** What the CA needs from a request whose signature and key passed every check. */
export interface VerifiedCsr {
  /** SPKI PEM of the requester's key. */
  readonly publicKeyPem: string;
  /** "ec" is always P-256. */
  readonly keyType: ConnectorKeyType;
  /** The RSA modulus size, or 256 for P-256. */
  readonly keyBits: number;
  /** SHA-256 of the SPKI DER, lowercase hex. */
  readonly publicKeyFingerprint256: string;
}

const PEM_LABELS = ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'] as const;
const REQUIRED_KEY = `an EC key on P-256 or an RSA key of at least ${MIN_CSR_RSA_BITS} bits`;

// The signature algorithms each key type may use, with their hash.
const SIGNATURE_HASHES: Readonly<Record<ConnectorKeyType, ReadonlyMap<string, string>>> = {
  rsa: new Map([
    [OID_SHA256_WITH_RSA, 'sha256'],
    [OID_SHA384_WITH_RSA, 'sha384'],
    [OID_SHA512_WITH_RSA, 'sha512'],
  ]),
  ec: new Map([
    [OID_ECDSA_WITH_SHA256, 'sha256'],
    [OID_ECDSA_WITH_SHA384, 'sha384'],
    [OID_ECDSA_WITH_SHA512, 'sha512'],
  ]),
};
const ACCEPTED_SIGNATURES: Readonly<Record<ConnectorKeyType, string>> = {
  rsa: 'sign an RSA key with RSA PKCS #1 v1.5 and SHA-256, SHA-384 or SHA-512',
  ec: 'sign an EC key with ECDSA and SHA-256, SHA-384 or SHA-512',
};

const KEY_NAMES: ReadonlyMap<string, string> = new Map([
  [OID_ED25519, 'an Ed25519 key'],
  [OID_RSASSA_PSS, 'an RSA-PSS key'],
]);

const CURVE_NAMES: ReadonlyMap<string, string> = new Map([
  [OID_CURVE_P384, 'P-384'],
  [OID_CURVE_P521, 'P-521'],
  [OID_CURVE_SECP256K1, 'secp256k1'],
]);

// CA/Browser Forum Baseline Requirements §6.1.6: odd, at least 3, and at most
// 2^256 - 1, which also bounds the cost of the public-key operation.
const MAX_PUBLIC_EXPONENT = (1n << 256n) - 1n;

export function verifyCsr(pem: string): VerifiedCsr {
  const parts = readRequest(pem);
  const { key, keyType } = readKey(parts);
  checkSignature(parts, key, keyType);
  const spkiDer = key.export({ type: 'spki', format: 'der' });
  return {
    publicKeyPem: key.export({ type: 'spki', format: 'pem' }).toString(),
    keyType,
    keyBits: keyType === 'ec' ? 256 : (key.asymmetricKeyDetails?.modulusLength ?? 0),
    publicKeyFingerprint256: sha256Hex(spkiDer),
  };
}

function readRequest(pem: string): CertificationRequestParts {
  if (typeof pem !== 'string') {
    throw new CsrError('ERR_CSR_MALFORMED', 'The certificate request must be PEM text (PKCS #10 "CERTIFICATE REQUEST").');
  }
  // Checked before any parsing, so that size alone can never cost more than a length count.
  const bytes = Buffer.byteLength(pem, 'utf8');
  if (bytes > MAX_CSR_PEM_BYTES) {
    throw new CsrError('ERR_CSR_TOO_LARGE', `The certificate request is ${bytes} bytes; at most ${MAX_CSR_PEM_BYTES} are accepted.`);
  }
  const decoded = decodePemOrThrow(pem);
  let parts: CertificationRequestParts | undefined;
  try {
    parts = readCertificationRequest(parseDer(decoded, { decodeBitStrings: false }));
  } catch (error) {
    throw malformed('its DER encoding is truncated, corrupt or not canonical', error);
  }
  if (!parts) throw malformed('it is not a PKCS #10 CertificationRequest');
  return parts;
}

function decodePemOrThrow(pem: string): Buffer {
  const result = decodePem(pem, PEM_LABELS);
  if (!result.ok) throw malformed(result.problem);
  return result.der;
}

function readKey(parts: CertificationRequestParts): { key: KeyObject; keyType: ConnectorKeyType } {
  if (parts.publicKeyAlgorithm === OID_EC_PUBLIC_KEY) return { key: readEcKey(parts), keyType: 'ec' };
  return { key: readRsaKey(parts), keyType: 'rsa' };
}

// The curve is read from the request before OpenSSL sees the key: a curve it does not know still gets its name in the refusal.
function readEcKey(parts: CertificationRequestParts): KeyObject {
  const curve = parts.publicKeyParameterOid;
  if (curve !== OID_CURVE_P256) {
    const what = curve === undefined ? 'explicit curve parameters' : `the curve ${CURVE_NAMES.get(curve) ?? curve}`;
    throw new CsrError('ERR_CSR_KEY_CURVE', `The certificate request carries an EC key on ${what}; the service requires ${REQUIRED_KEY}.`);
  }
  let key: KeyObject;
  try {
    // OpenSSL refuses a point that is not on the curve.
    key = createPublicKey({ key: parts.publicKeyInfoDer, format: 'der', type: 'spki' });
  } catch (error) {
    throw malformed('its EC public key cannot be read', error);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== EC_CURVE) {
    throw new CsrError('ERR_CSR_KEY_CURVE', `The certificate request's EC key is not on P-256; the service requires ${REQUIRED_KEY}.`);
  }
  return key;
}

function readRsaKey(parts: CertificationRequestParts): KeyObject {
  if (parts.publicKeyAlgorithm !== OID_RSA_ENCRYPTION) {
    const what = KEY_NAMES.get(parts.publicKeyAlgorithm) ?? `a key of type ${parts.publicKeyAlgorithm}`;
    throw new CsrError('ERR_CSR_KEY_TYPE', `The certificate request carries ${what}; the service requires ${REQUIRED_KEY}.`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: parts.publicKeyInfoDer, format: 'der', type: 'spki' });
  } catch (error) {
    throw malformed('its RSA public key cannot be read', error);
  }
  const details = key.asymmetricKeyDetails;
  const bits = details?.modulusLength;
  const exponent = details?.publicExponent;
  if (key.asymmetricKeyType !== 'rsa' || bits === undefined || exponent === undefined) {
    throw new CsrError('ERR_CSR_KEY_TYPE', `The certificate request's key is not usable; the service requires ${REQUIRED_KEY}.`);
  }
  if (bits < MIN_CSR_RSA_BITS) {
    throw new CsrError('ERR_CSR_KEY_TOO_SMALL', `The certificate request's RSA key has ${bits} bits; at least ${MIN_CSR_RSA_BITS} are required.`);
  }
  if (bits > MAX_CSR_RSA_BITS) {
    throw new CsrError('ERR_CSR_KEY_TYPE', `The certificate request's RSA key has ${bits} bits; at most ${MAX_CSR_RSA_BITS} are accepted.`);
  }
  if (exponent < 3n || exponent % 2n === 0n || exponent > MAX_PUBLIC_EXPONENT) {
    throw new CsrError(
      'ERR_CSR_KEY_TYPE',
      "The certificate request's RSA public exponent is not acceptable; use an odd exponent of at least 3 (normally 65537).",
    );
  }
  return key;
}

function checkSignature(parts: CertificationRequestParts, key: KeyObject, keyType: ConnectorKeyType): void {
  const hash = SIGNATURE_HASHES[keyType].get(parts.signatureAlgorithm);
  if (hash === undefined || parts.signatureHasParameters) {
    throw new CsrError('ERR_CSR_SIGNATURE', `The certificate request is signed with algorithm ${parts.signatureAlgorithm}; ${ACCEPTED_SIGNATURES[keyType]}.`);
  }
  if (!signatureMatches(hash, parts, key, keyType)) {
    throw new CsrError(
      'ERR_CSR_SIGNATURE',
      "The certificate request's signature does not match its contents and key: it was altered after signing, or signed with another key.",
    );
  }
}

function signatureMatches(hash: string, parts: CertificationRequestParts, key: KeyObject, keyType: ConnectorKeyType): boolean {
  try {
    // ECDSA signatures in X.509 are DER Ecdsa-Sig-Value (RFC 5480 §2.2 … RFC 3279 §2.2.3); OpenSSL refuses other encodings of (r, s).
    const options = keyType === 'rsa' ? { key, padding: constants.RSA_PKCS1_PADDING } : { key, dsaEncoding: 'der' as const };
    return verify(hash, parts.infoDer, options, parts.signature);
  } catch {
    return false;
  }
}

function malformed(problem: string, cause?: unknown): CsrError {
  return new CsrError(
    'ERR_CSR_MALFORMED',
    `The certificate request is not usable: ${problem}. Send one PEM "CERTIFICATE REQUEST" (PKCS #10).`,
    cause === undefined ? undefined : { cause },
  );
}
