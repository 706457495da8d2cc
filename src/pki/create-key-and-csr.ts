/**
 * The connector's side of registration and renewal: a fresh key pair and a
 * PKCS#10 request for it. The key never leaves the connector; the request
 * only proves possession, since the service ignores its subject.
 *
 * forge encodes only RSA keys, so the request is assembled here from the
 * key's SubjectPublicKeyInfo as OpenSSL writes it: one path for both types.
 */
import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { MAX_CSR_RSA_BITS, MIN_CSR_RSA_BITS } from '../limits.ts';
import { PkiArgumentError } from './errors.ts';
import { parseDer, toDer } from './forge-der.ts';
import { CONNECTOR_KEY_TYPES, generateEcKey, generateRsaKey, readConnectorKey, type ConnectorKeyType } from './keys.ts';
import { OID_ECDSA_WITH_SHA256, OID_SHA256_WITH_RSA } from './oids.ts';
import { encodePem } from './pem.ts';

export interface CreateKeyAndCsrOptions {
  /**
   * Default "rsa", what every caller of this function made before EC keys;
   * the connector itself defaults to DEFAULT_CONNECTOR_KEY_TYPE (EC P-256).
   */
  readonly keyType?: ConnectorKeyType;
  /** RSA modulus size; default 3072, never below 2048. Only for RSA keys. */
  readonly bits?: number;
}

export interface KeyAndCsr {
  /** PKCS #8 PEM private key: store it with mode 0600. */
  readonly keyPem: string;
  readonly csrPem: string;
}

const DEFAULT_BITS = 3072;
const SUBJECT_COMMON_NAME = 'gatehouse-connector';
const OID_COMMON_NAME = '2.5.4.3';
const { Class, Type } = forge.asn1;

export function createKeyAndCsr(options: CreateKeyAndCsrOptions = {}): KeyAndCsr {
  const keyType = options.keyType ?? 'rsa';
  if (!CONNECTOR_KEY_TYPES.includes(keyType)) throw new PkiArgumentError('keyType', `must be ${CONNECTOR_KEY_TYPES.map((t) => `"${t}"`).join(' or ')}`);
  if (keyType === 'ec') {
    if (options.bits !== undefined) throw new PkiArgumentError('bits', 'applies to RSA keys only; EC keys are on P-256');
    const key = generateEcKey();
    return { keyPem: key.keyPem, csrPem: csrFor(key.privateKey, 'ec') };
  }
  const bits = options.bits ?? DEFAULT_BITS;
  if (!Number.isInteger(bits) || bits < MIN_CSR_RSA_BITS || bits > MAX_CSR_RSA_BITS || bits % 8 !== 0) {
    throw new PkiArgumentError('bits', `must be a multiple of 8 from ${MIN_CSR_RSA_BITS} to ${MAX_CSR_RSA_BITS} (default ${DEFAULT_BITS})`);
  }
  const key = generateRsaKey(bits);
  return { keyPem: key.keyPem, csrPem: csrFor(key.privateKey, 'rsa') };
}

/**
 * A request for a key the connector already holds: a renewal asked again
 * after its answer was lost must name the same key to get the same
 * certificate back.
 */
export function createCsrForKey(keyPem: string): string {
  const { privateKey, keyType } = readConnectorKey(keyPem);
  return csrFor(privateKey, keyType);
}

/** The key type of a connector's PEM private key: a renewal makes its next key of the same type. */
export function connectorKeyTypeOf(keyPem: string): ConnectorKeyType {
  return readConnectorKey(keyPem).keyType;
}

function node(tagClass: forge.asn1.Class, type: number, constructed: boolean, value: string | forge.asn1.Asn1[]): forge.asn1.Asn1 {
  return forge.asn1.create(tagClass, type, constructed, value);
}

function csrFor(privateKey: KeyObject, keyType: ConnectorKeyType): string {
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const subject = node(Class.UNIVERSAL, Type.SEQUENCE, true, [
    node(Class.UNIVERSAL, Type.SET, true, [
      node(Class.UNIVERSAL, Type.SEQUENCE, true, [
        node(Class.UNIVERSAL, Type.OID, false, forge.asn1.oidToDer(OID_COMMON_NAME).getBytes()),
        node(Class.UNIVERSAL, Type.UTF8, false, SUBJECT_COMMON_NAME),
      ]),
    ]),
  ]);
  // RFC 2986 §4.1: version 0, subject, key, and an empty attribute set.
  const info = node(Class.UNIVERSAL, Type.SEQUENCE, true, [
    node(Class.UNIVERSAL, Type.INTEGER, false, '\x00'),
    subject,
    parseDer(spki, { decodeBitStrings: false }),
    node(Class.CONTEXT_SPECIFIC, 0, true, []),
  ]);
  // RSA algorithm identifiers carry NULL parameters (RFC 8017 App. C); ECDSA ones none (RFC 5758 §3.2).
  const algorithm =
    keyType === 'rsa'
      ? [node(Class.UNIVERSAL, Type.OID, false, forge.asn1.oidToDer(OID_SHA256_WITH_RSA).getBytes()), node(Class.UNIVERSAL, Type.NULL, false, '')]
      : [node(Class.UNIVERSAL, Type.OID, false, forge.asn1.oidToDer(OID_ECDSA_WITH_SHA256).getBytes())];
  // node:crypto signs RSA with PKCS #1 v1.5 and ECDSA as a DER Ecdsa-Sig-Value, the encodings X.509 expects.
  const signature = sign('sha256', toDer(info), privateKey);
  const request = node(Class.UNIVERSAL, Type.SEQUENCE, true, [
    info,
    node(Class.UNIVERSAL, Type.SEQUENCE, true, algorithm),
    node(Class.UNIVERSAL, Type.BITSTRING, false, `\x00${signature.toString('binary')}`),
  ]);
  return encodePem('CERTIFICATE REQUEST', toDer(request));
}
