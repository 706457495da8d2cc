import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

export interface RsaKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** PKCS #8 PEM, what node:tls and most tools read. */
  readonly keyPem: string;
}

// OpenSSL makes a 3072-bit key in a fraction of a second; forge's pure
// JavaScript generator takes seconds.
export function generateRsaKey(bits: number): RsaKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 0x10001 });
  return {
    privateKey,
    publicKey: createPublicKey(privateKey),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}
