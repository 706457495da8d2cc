/**
 * Key pairs, made by OpenSSL (node:crypto): the CA's and the development
 * listener's RSA keys, and a connector's key of either accepted type.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { PkiArgumentError } from './errors.ts';

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** PKCS #8 PEM, what node:tls and most tools read. */
  readonly keyPem: string;
}

/**
 * The key types a connector may hold: EC on P-256 (the default: small, fast
 * handshakes) or RSA of at least 2048 bits, for sites whose policy asks for it.
 */
export const CONNECTOR_KEY_TYPES = ['ec', 'rsa'] as const;
export type ConnectorKeyType = (typeof CONNECTOR_KEY_TYPES)[number];
export const DEFAULT_CONNECTOR_KEY_TYPE: ConnectorKeyType = 'ec';

/** The one curve the service accepts: P-256 is what every TLS stack supports. */
export const EC_CURVE = 'prime256v1';

function pair(privateKey: KeyObject): KeyPair {
  return {
    privateKey,
    publicKey: createPublicKey(privateKey),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

// OpenSSL makes a 3072-bit key in a fraction of a second; forge's pure
// JavaScript generator takes seconds.
export function generateRsaKey(bits: number): KeyPair {
  return pair(generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 0x10001 }).privateKey);
}

export function generateEcKey(): KeyPair {
  return pair(generateKeyPairSync('ec', { namedCurve: EC_CURVE }).privateKey);
}

/** The connector key type of a private key, or undefined for any other key (another curve, Ed25519…). */
export function connectorKeyType(key: KeyObject): ConnectorKeyType | undefined {
  if (key.asymmetricKeyType === 'rsa') return 'rsa';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === EC_CURVE) return 'ec';
  return undefined;
}

/** Reads a connector's PEM private key. Throws a PkiArgumentError for anything but an RSA or P-256 key. */
export function readConnectorKey(keyPem: string): { readonly privateKey: KeyObject; readonly keyType: ConnectorKeyType } {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch {
    throw new PkiArgumentError('keyPem', 'must be a PEM private key');
  }
  const keyType = connectorKeyType(privateKey);
  if (keyType === undefined) throw new PkiArgumentError('keyPem', 'must be an EC P-256 or an RSA private key');
  return { privateKey, keyType };
}
