/**
 * The connector plane's TLS identity at start: the connector CA, loaded from
 * the store or created there once, its private key sealed with the operator's
 * CA key when one is configured, and the certificate the connector listener
 * presents when the configuration gives it none.
 */
import type { ConnectorsConfig, TlsMaterial } from '../config/parse.ts';
import type { Logger } from '../logging/logger.ts';
import { isSealedCaKey, openCaKey, sealCaKey, type SealedCaKey } from '../pki/ca-key-envelope.ts';
import { parseCaKeyRing, type CaKeyRing } from '../pki/ca-key-ring.ts';
import { ConnectorCa, createConnectorCa, type CaMaterial } from '../pki/connector-ca.ts';
import { CaError } from '../pki/errors.ts';
import type { Store } from '../store/store.ts';

const CA_KEY = 'connector-ca';
// Each lost compare-and-set means another instance wrote a newer form; a handful of rounds settles any start-up race.
const MAX_ROUNDS = 5;

/** What the store keeps under "connector-ca": the certificate, and the key in clear (no CA key configured) or sealed. */
type StoredCa = { readonly certPem: string } & ({ readonly keyPem: string } | { readonly sealedKey: SealedCaKey });

export interface OpenConnectorCaOptions {
  /** The CA key list (connectors.caKey, connectors.caKeyFile or GATEHOUSE_CA_KEY), current key first. Absent: the key is kept in clear. */
  readonly caKey?: string | undefined;
  /** Told once, at start, when no CA key is configured. */
  readonly logger?: Pick<Logger, 'warn' | 'info'>;
}

/**
 * Loads the connector CA from `store`, creating it on the first start.
 * With a CA key configured, a CA kept in clear or sealed with a previous key
 * is sealed again with the current key. Throws a CaError (ERR_CA_KEY_MISMATCH,
 * ERR_CA_KEY_MISSING, ERR_CA_INVALID) when the stored key cannot be opened.
 */
export async function openConnectorCa(store: Store, options: OpenConnectorCaOptions = {}): Promise<ConnectorCa> {
  const ring = options.caKey === undefined ? undefined : keyRing(options.caKey);
  if (ring === undefined) {
    options.logger?.warn(
      'connector CA: no CA key configured (connectors.caKeyFile or GATEHOUSE_CA_KEY), so its private key is kept unencrypted in the store; acceptable for development only. Make a key with "openssl rand -base64 32"',
    );
  }
  for (let round = 0; round < MAX_ROUNDS; round += 1) {
    const stored = await store.get(CA_KEY);
    if (stored === undefined) {
      const material = createConnectorCa({ commonName: 'Gatehouse connector CA' });
      // Two instances starting at once must end up with one CA: the one that lost the race takes the winner's.
      if (await store.compareAndSet(CA_KEY, undefined, encode(material, ring))) return new ConnectorCa(material);
      continue;
    }
    const { material, sealedWith } = decode(stored, ring);
    const ca = new ConnectorCa(material);
    if (ring === undefined || sealedWith === ring[0].id) return ca;
    // Kept in clear, or sealed with a previous key: seal it with the current one. Only the instance whose write lands logs it.
    if (await store.compareAndSet(CA_KEY, stored, encode(material, ring))) {
      options.logger?.info(
        { keyId: ring[0].id, ...(sealedWith === undefined ? {} : { previousKeyId: sealedWith }) },
        sealedWith === undefined ? 'connector CA: private key encrypted in the store' : 'connector CA: private key sealed again with the current CA key',
      );
      return ca;
    }
  }
  throw new CaError('ERR_CA_INVALID', 'The connector CA in the store kept changing while this instance started; start it again.');
}

function keyRing(text: string): CaKeyRing {
  const ring = parseCaKeyRing(text);
  // The configuration checked the key list already; this only guards direct callers.
  if (typeof ring === 'string') throw new CaError('ERR_CA_KEY_MISMATCH', `The configured CA key ${ring}.`);
  return ring;
}

function encode(material: CaMaterial, ring: CaKeyRing | undefined): string {
  const stored: StoredCa = ring === undefined ? material : { certPem: material.certPem, sealedKey: sealCaKey(material.keyPem, ring[0]) };
  return JSON.stringify(stored);
}

function decode(text: string, ring: CaKeyRing | undefined): { material: CaMaterial; sealedWith: string | undefined } {
  let stored: Record<string, unknown>;
  try {
    stored = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new CaError('ERR_CA_INVALID', 'The connector CA material in the store is not JSON.', { cause: error });
  }
  const certPem = typeof stored['certPem'] === 'string' ? stored['certPem'] : '';
  if (typeof stored['keyPem'] === 'string') return { material: { certPem, keyPem: stored['keyPem'] }, sealedWith: undefined };
  const sealed = stored['sealedKey'];
  if (!isSealedCaKey(sealed)) throw new CaError('ERR_CA_INVALID', 'The connector CA material in the store holds no private key.');
  return { material: { certPem, keyPem: openCaKey(sealed, ring) }, sealedWith: String(sealed.kid) };
}

/**
 * The listener's certificate: the configured one, or one the connector CA
 * issues for loopback and the public URL's host, which connectors already
 * trust because they trust that CA.
 */
export function listenerTls(config: Pick<ConnectorsConfig, 'tls' | 'publicUrl'>, ca: ConnectorCa): TlsMaterial {
  if (config.tls) return config.tls;
  const hostnames = new Set(['localhost', '127.0.0.1']);
  if (config.publicUrl) hostnames.add(new URL(config.publicUrl).hostname);
  const issued = ca.issueServerCertificate([...hostnames], { validDays: 365, now: Date.now() });
  return { cert: issued.certPem, key: issued.keyPem };
}
