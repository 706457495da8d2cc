/**
 * The connector plane's TLS identity at start: the connector CA, loaded from
 * the store or created there once, and the certificate the connector
 * listener presents when the configuration gives it none.
 */
import type { ConnectorsConfig, TlsMaterial } from '../config/parse.ts';
import { ConnectorCa, createConnectorCa, type CaMaterial } from '../pki/connector-ca.ts';
import type { Store } from '../store/store.ts';

const CA_KEY = 'connector-ca';

/** Loads the connector CA from `store`, creating it on the first start. */
export async function openConnectorCa(store: Store): Promise<ConnectorCa> {
  const stored = await store.get(CA_KEY);
  if (stored !== undefined) return new ConnectorCa(JSON.parse(stored) as CaMaterial);
  const material = createConnectorCa({ commonName: 'Gatehouse connector CA' });
  // Two instances starting at once must end up with one CA: the one that lost the race takes the winner's.
  if (await store.compareAndSet(CA_KEY, undefined, JSON.stringify(material))) return new ConnectorCa(material);
  return new ConnectorCa(JSON.parse((await store.get(CA_KEY)) ?? '{}') as CaMaterial);
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
