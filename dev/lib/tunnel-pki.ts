/**
 * A connector CA with a service certificate and client identities issued from
 * it, in memory, for the tunnel's parts wired together by hand (tests and the
 * connector benchmark).
 */
import { ConnectorCa, createConnectorCa } from '../../src/pki/connector-ca.ts';
import { createKeyAndCsr, verifyCsr } from '../../src/pki/csr.ts';

export interface ClientIdentity {
  readonly keyPem: string;
  readonly certPem: string;
}

export interface TestPki {
  readonly ca: ConnectorCa;
  readonly caPem: string;
  /** The service listener's certificate (127.0.0.1, localhost), from the same CA. */
  readonly server: { readonly cert: string; readonly key: string };
  /** A client certificate naming the connector (CN) and its group (OU). */
  identity(connectorId: string, group: string): ClientIdentity;
}

/** Slow (RSA key generation): make one per test file. */
export function createTestPki(commonName = 'Gatehouse tunnel test CA'): TestPki {
  const ca = new ConnectorCa(createConnectorCa({ commonName }));
  const issued = ca.issueServerCertificate(['127.0.0.1', 'localhost'], { validDays: 2, now: Date.now() });
  const identities = new Map<string, ClientIdentity>();
  return {
    ca,
    caPem: ca.certPem,
    server: { cert: issued.certPem, key: issued.keyPem },
    identity(connectorId, group) {
      const key = `${connectorId}/${group}`;
      let identity = identities.get(key);
      if (!identity) {
        const { keyPem, csrPem } = createKeyAndCsr({ bits: 2048 });
        const cert = ca.issueClientCertificate(verifyCsr(csrPem), { connectorId, group }, { validDays: 2, now: Date.now() });
        identity = { keyPem, certPem: cert.certPem };
        identities.set(key, identity);
      }
      return identity;
    },
  };
}
