import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { listenerTls, openConnectorCa } from '../../../src/connector-plane/ca-bootstrap.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';

describe('connector plane: CA bootstrap', () => {
  it('creates the CA once, and every later start and every instance starting at once uses that one', async () => {
    const store = new MemoryStore();
    const [a, b] = await Promise.all([openConnectorCa(store), openConnectorCa(store)]);
    assert.equal(a.fingerprint256, b.fingerprint256);
    const later = await openConnectorCa(store);
    assert.equal(later.fingerprint256, a.fingerprint256);
  });

  it('gives the listener a certificate from that CA for loopback and the public URL’s host, unless one is configured', async () => {
    const ca = await openConnectorCa(new MemoryStore());
    const issued = new X509Certificate(listenerTls({ publicUrl: 'https://connect.example.com:8444' }, ca).cert);
    assert.ok(issued.verify(new X509Certificate(ca.certPem).publicKey));
    for (const name of ['localhost', 'connect.example.com']) assert.ok(issued.checkHost(name), name);
    assert.equal(issued.checkIP('127.0.0.1'), '127.0.0.1');
    const configured = { cert: 'CERT', key: 'KEY' };
    assert.equal(listenerTls({ tls: configured }, ca), configured);
  });
});
