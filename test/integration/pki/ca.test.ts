import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import forge from 'node-forge';
import { MAX_CLIENT_CERT_BYTES } from '../../../src/limits.ts';
import { certificateFromDer } from '../../../src/pki/certificate-fields.ts';
import { ConnectorCa, createConnectorCa, type CaMaterial, type IssuedCertificate } from '../../../src/pki/connector-ca.ts';
import { createKeyAndCsr, verifyCsr, type VerifiedCsr } from '../../../src/pki/csr.ts';
import { CaError } from '../../../src/pki/errors.ts';
import { certificateFingerprint256, normalizeFingerprint } from '../../../src/pki/fingerprint.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

interface ClientIdentity {
  readonly certPem: string;
  readonly keyPem: string;
}

interface HandshakeResult {
  /** The server accepted the client and the application data went through. */
  readonly served: boolean;
  /** What the server saw. */
  readonly server: ServerView;
}

interface ServerView {
  readonly authorized: boolean;
  /** OpenSSL's verdict, e.g. CERT_HAS_EXPIRED: only seen when the server does not reject outright. */
  readonly authorizationError?: string;
  readonly peer?: tls.DetailedPeerCertificate;
}

/** A real mTLS listener on 127.0.0.1:0, configured the way the connector listener is. */
class MtlsServer {
  readonly #server: tls.Server;
  #outcomes: Array<(outcome: ServerView) => void> = [];

  /**
   * With rejectUnauthorized (the connector listener's setting) Node drops a
   * refused client without saying why; without it, the reason is readable.
   */
  constructor(ca: ConnectorCa, rejectUnauthorized = true) {
    const serverIdentity = ca.issueServerCertificate(['localhost', '127.0.0.1'], { validDays: 1, now: Date.now() });
    this.#server = tls.createServer(
      {
        key: serverIdentity.keyPem,
        cert: serverIdentity.certPem,
        ca: [ca.certPem],
        requestCert: true,
        rejectUnauthorized,
      },
      (socket) => {
        const authorizationError = socket.authorizationError === null ? undefined : String(socket.authorizationError);
        this.#settle({
          authorized: socket.authorized,
          ...(authorizationError === undefined ? {} : { authorizationError }),
          peer: socket.getPeerCertificate(true),
        });
        socket.end(socket.authorized ? 'served' : 'refused');
      },
    );
    this.#server.on('tlsClientError', () => {
      this.#settle({ authorized: false });
    });
  }

  async listen(): Promise<number> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    return (this.#server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Connects (one at a time) and reports what both ends saw. */
  async handshake(port: number, trust: string, client: ClientIdentity | undefined): Promise<HandshakeResult> {
    const serverSide = new Promise<ServerView>((resolve) => this.#outcomes.push(resolve));
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: [trust],
      ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
    });
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    // Refusals surface on the client as an alert ("unknown ca", "certificate expired"…) or a reset.
    socket.on('error', () => undefined);
    // Not events.once: it would reject on that 'error'.
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    return { served: received === 'served', server: await serverSide };
  }

  #settle(outcome: ServerView): void {
    const next = this.#outcomes.shift();
    next?.(outcome);
  }
}

function forgeCertificate(pem: string): forge.pki.Certificate {
  return forge.pki.certificateFromPem(pem);
}

describe('pki: connector CA', function () {
  this.timeout(60_000);
  let material: CaMaterial;
  let ca: ConnectorCa;
  let connector: { keyPem: string; csr: VerifiedCsr };

  before(() => {
    material = createConnectorCa();
    ca = new ConnectorCa(material);
    const { keyPem, csrPem } = createKeyAndCsr();
    connector = { keyPem, csr: verifyCsr(csrPem) };
  });

  describe('createConnectorCa', () => {
    it('makes a self-signed RSA-3072 CA for ten years, limited to signing leaves', () => {
      const x509 = new X509Certificate(material.certPem);
      assert.equal(x509.ca, true);
      assert.equal(x509.verify(x509.publicKey), true);
      assert.equal(x509.checkPrivateKey(createPrivateKey(material.keyPem)), true);
      assert.equal(x509.publicKey.asymmetricKeyDetails?.modulusLength, 3072);
      assert.match(x509.subject, /CN=Gatehouse Connector CA/);
      const years = (Date.parse(x509.validTo) - Date.now()) / (365 * DAY_MS);
      assert.ok(years > 9.9 && years < 10.1, `valid for ${years} years`);
      const cert = forgeCertificate(material.certPem);
      const constraints = cert.getExtension('basicConstraints') as { cA: boolean; critical: boolean; pathLenConstraint: number };
      assert.deepEqual([constraints.cA, constraints.critical, constraints.pathLenConstraint], [true, true, 0]);
      const usage = cert.getExtension('keyUsage') as Record<string, boolean>;
      assert.deepEqual([usage['keyCertSign'], usage['cRLSign'], usage['digitalSignature']], [true, true, false]);
      assert.ok(cert.getExtension('subjectKeyIdentifier'));
      assert.equal(cert.siginfo.algorithmOid, forge.pki.oids['sha256WithRSAEncryption']);
    });

    it('uses a random positive serial each time, and the injected clock', () => {
      const start = Date.UTC(2030, 0, 1);
      const other = new X509Certificate(createConnectorCa({ clock: () => start, validDays: 30, commonName: 'Test CA' }).certPem);
      const mine = new X509Certificate(material.certPem);
      assert.notEqual(other.serialNumber, mine.serialNumber);
      assert.ok(Number.parseInt(other.serialNumber.slice(0, 2), 16) < 0x80, 'serial is positive');
      assert.equal(other.serialNumber.length, 32);
      assert.equal(Date.parse(other.validFrom), start - 5 * 60 * 1000);
      assert.equal(Date.parse(other.validTo), start + 30 * DAY_MS);
      assert.match(other.subject, /CN=Test CA/);
    });

    it('refuses absurd options as caller mistakes', () => {
      assert.throws(() => createConnectorCa({ validDays: 0 }), { code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => createConnectorCa({ commonName: '' }), { code: 'ERR_INVALID_ARG_VALUE' });
    });
  });

  describe('new ConnectorCa', () => {
    it('loads stored material and hands out the CA certificate', () => {
      const loaded = new ConnectorCa(JSON.parse(JSON.stringify(material)) as CaMaterial);
      assert.equal(loaded.certPem.trim(), material.certPem.trim());
      assert.equal(loaded.fingerprint256, certificateFingerprint256(material.certPem));
      assert.equal(loaded.notAfter.getTime(), Date.parse(new X509Certificate(material.certPem).validTo));
    });

    it('refuses material that is not a CA with its own key', () => {
      const other = createConnectorCa();
      const leaf = ca.issueClientCertificate(connector.csr, { connectorId: 'c-1', group: 'default' }, { validDays: 1, now: Date.now() });
      const cases: Array<[string, CaMaterial]> = [
        ['a key from another CA', { certPem: material.certPem, keyPem: other.keyPem }],
        ['garbage instead of a certificate', { certPem: 'not a certificate', keyPem: material.keyPem }],
        ['garbage instead of a key', { certPem: material.certPem, keyPem: 'not a key' }],
        ['a leaf certificate', { certPem: leaf.certPem, keyPem: connector.keyPem }],
      ];
      for (const [name, bad] of cases) {
        assert.throws(() => new ConnectorCa(bad), { name: 'CaError', code: 'ERR_CA_INVALID' }, name);
      }
    });
  });

  describe('issueClientCertificate', () => {
    let issued: IssuedCertificate;
    // Read when the tests run, not when the file loads: the CA is made then, with its own clock.
    let now: number;

    before(() => {
      now = Date.now();
      issued = ca.issueClientCertificate(connector.csr, { connectorId: 'c-0123abcd', group: 'eu_west-1' }, { validDays: 30, now });
    });

    it('names the connector and its group from the service, not from the request', () => {
      const x509 = new X509Certificate(issued.certPem);
      assert.equal(x509.subject, 'CN=c-0123abcd\nOU=eu_west-1');
      assert.doesNotMatch(x509.subject, /gatehouse-connector/);
      assert.equal(x509.issuer, new X509Certificate(ca.certPem).subject);
    });

    it("certifies the requester's key, for client authentication only", () => {
      const x509 = new X509Certificate(issued.certPem);
      assert.equal(x509.publicKey.export({ type: 'spki', format: 'pem' }), connector.csr.publicKeyPem);
      assert.equal(x509.checkPrivateKey(createPrivateKey(connector.keyPem)), true);
      assert.equal(x509.ca, false);
      assert.deepEqual(x509.keyUsage, [CLIENT_AUTH]);
      assert.equal(x509.verify(new X509Certificate(ca.certPem).publicKey), true);
      const cert = forgeCertificate(issued.certPem);
      const usage = cert.getExtension('keyUsage') as Record<string, boolean>;
      assert.deepEqual([usage['digitalSignature'], usage['keyEncipherment'], usage['keyCertSign']], [true, true, false]);
      const aki = cert.getExtension('authorityKeyIdentifier') as { value: string };
      const caSki = forgeCertificate(ca.certPem).getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier: string };
      assert.ok(forge.util.bytesToHex(aki.value).endsWith(caSki.subjectKeyIdentifier));
    });

    it('reports serial, fingerprint and validity as the certificate carries them', () => {
      const x509 = new X509Certificate(issued.certPem);
      assert.equal(issued.serialNumber, x509.serialNumber.toLowerCase());
      assert.match(issued.serialNumber, /^[0-7][0-9a-f]{31}$/);
      assert.equal(issued.fingerprint256, normalizeFingerprint(x509.fingerprint256));
      assert.match(issued.fingerprint256, /^[0-9a-f]{64}$/);
      assert.equal(issued.notBefore.getTime(), Date.parse(x509.validFrom));
      assert.equal(issued.notAfter.getTime(), Date.parse(x509.validTo));
      assert.equal(issued.notBefore.getTime(), Math.floor((now - 5 * 60 * 1000) / 1000) * 1000);
      assert.equal(issued.notAfter.getTime(), Math.floor((now + 30 * DAY_MS) / 1000) * 1000);
    });

    it('gives each certificate its own serial', () => {
      const again = ca.issueClientCertificate(connector.csr, { connectorId: 'c-0123abcd', group: 'eu_west-1' }, { validDays: 30, now });
      assert.notEqual(again.serialNumber, issued.serialNumber);
      assert.notEqual(again.fingerprint256, issued.fingerprint256);
    });

    it('never outlives the CA, and refuses to sign once the CA has expired', () => {
      const start = Date.now();
      const shortCa = new ConnectorCa(createConnectorCa({ validDays: 10, clock: () => start }));
      const capped = shortCa.issueClientCertificate(connector.csr, { connectorId: 'c-1', group: 'g' }, { validDays: 365, now: start });
      assert.equal(capped.notAfter.getTime(), shortCa.notAfter.getTime());
      assert.throws(
        () => shortCa.issueClientCertificate(connector.csr, { connectorId: 'c-1', group: 'g' }, { validDays: 1, now: start + 11 * DAY_MS }),
        (error: unknown) => error instanceof CaError && error.code === 'ERR_CA_EXPIRED',
      );
    });

    it('refuses names that would not be plain CN and OU values', () => {
      for (const subject of [
        { connectorId: '', group: 'g' },
        { connectorId: 'c-1,O=Gatehouse', group: 'g' },
        { connectorId: 'c-1', group: 'g\nCN=admin' },
        { connectorId: 'x'.repeat(65), group: 'g' },
      ]) {
        assert.throws(() => ca.issueClientCertificate(connector.csr, subject, { validDays: 1, now }), { code: 'ERR_INVALID_ARG_VALUE' });
      }
      assert.throws(() => ca.issueClientCertificate(connector.csr, { connectorId: 'c', group: 'g' }, { validDays: -1, now }), {
        code: 'ERR_INVALID_ARG_VALUE',
      });
    });
  });

  describe('issueServerCertificate', () => {
    it('issues a server certificate with DNS and IP names', () => {
      const server = ca.issueServerCertificate(['localhost', '127.0.0.1', 'localhost'], { validDays: 2, now: Date.now() });
      const x509 = new X509Certificate(server.certPem);
      assert.equal(x509.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1');
      assert.deepEqual(x509.keyUsage, [SERVER_AUTH]);
      assert.equal(x509.checkPrivateKey(createPrivateKey(server.keyPem)), true);
      assert.equal(x509.checkHost('localhost'), 'localhost');
      assert.equal(x509.checkIP('127.0.0.1'), '127.0.0.1');
    });

    it('refuses no hostnames and names that are neither DNS nor IP', () => {
      assert.throws(() => ca.issueServerCertificate([], { validDays: 1, now: Date.now() }), { code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => ca.issueServerCertificate(['bad host'], { validDays: 1, now: Date.now() }), {
        code: 'ERR_INVALID_ARG_VALUE',
      });
    });
  });

  describe('verifyClientCertificate', () => {
    // Read when the tests run, not when the file loads (in a long run that is minutes before the CA is made).
    let now: number;
    let issued: IssuedCertificate;

    before(() => {
      now = Date.now();
      issued = ca.issueClientCertificate(connector.csr, { connectorId: 'c-42', group: 'default' }, { validDays: 30, now });
    });

    it('accepts a certificate it issued, as PEM or as the DER that TLS reports', () => {
      const verdict = ca.verifyClientCertificate(issued.certPem, now);
      assert.deepEqual(verdict, {
        ok: true,
        connectorId: 'c-42',
        group: 'default',
        serialNumber: issued.serialNumber,
        fingerprint256: issued.fingerprint256,
        notBefore: issued.notBefore,
        notAfter: issued.notAfter,
      });
      assert.deepEqual(ca.verifyClientCertificate(new X509Certificate(issued.certPem).raw, now), verdict);
    });

    it('refuses a certificate from another CA, even one with the same name', () => {
      const impostor = new ConnectorCa(createConnectorCa());
      const forged = impostor.issueClientCertificate(connector.csr, { connectorId: 'c-42', group: 'default' }, { validDays: 30, now });
      assert.equal(new X509Certificate(forged.certPem).issuer, new X509Certificate(ca.certPem).subject);
      assert.deepEqual(ca.verifyClientCertificate(forged.certPem, now), { ok: false, reason: 'not_issued_by_ca' });
    });

    it('refuses outside the validity window', () => {
      assert.deepEqual(ca.verifyClientCertificate(issued.certPem, issued.notAfter.getTime() + 1000), { ok: false, reason: 'expired' });
      assert.deepEqual(ca.verifyClientCertificate(issued.certPem, issued.notBefore.getTime() - 1000), {
        ok: false,
        reason: 'not_yet_valid',
      });
    });

    it("refuses certificates made for other purposes: the server's, the CA's own", () => {
      const server = ca.issueServerCertificate(['localhost'], { validDays: 1, now });
      assert.deepEqual(ca.verifyClientCertificate(server.certPem, now), { ok: false, reason: 'wrong_usage' });
      assert.deepEqual(ca.verifyClientCertificate(ca.certPem, now), { ok: false, reason: 'wrong_usage' });
    });

    it('refuses anything unreadable as malformed, without throwing', () => {
      const der = new X509Certificate(issued.certPem).raw;
      const flipped = Buffer.from(der);
      flipped[10] = (flipped[10] ?? 0) ^ 0xff;
      for (const input of [
        '',
        'garbage',
        issued.certPem.replaceAll('CERTIFICATE', 'CERTIFICATE REQUEST'),
        issued.certPem + issued.certPem,
        'A'.repeat(MAX_CLIENT_CERT_BYTES + 1),
        der.subarray(0, der.length - 1),
        Buffer.concat([der, Buffer.from([0])]),
        Buffer.alloc(MAX_CLIENT_CERT_BYTES + 1),
        flipped,
      ]) {
        assert.deepEqual(ca.verifyClientCertificate(input, now), { ok: false, reason: 'malformed' });
      }
    });

    it('refuses a flipped bit in the signed part as not issued by the CA', () => {
      const der = Buffer.from(new X509Certificate(issued.certPem).raw);
      // Inside the subject public key: still well-formed DER, no longer what the CA signed.
      const index = der.indexOf(Buffer.from(connector.csr.publicKeyPem.split('\n')[1] ?? '', 'base64').subarray(40, 48));
      assert.ok(index > 0);
      der[index] = (der[index] ?? 0) ^ 0x01;
      assert.deepEqual(ca.verifyClientCertificate(der, now), { ok: false, reason: 'not_issued_by_ca' });
    });
  });

  describe('over real TLS', () => {
    let server: MtlsServer;
    let port: number;

    before(async () => {
      server = new MtlsServer(ca);
      port = await server.listen();
    });
    after(async () => {
      await server.close();
    });

    it('authorizes an issued client certificate, and both checks agree on it', async () => {
      const issued = ca.issueClientCertificate(connector.csr, { connectorId: 'c-tls', group: 'default' }, { validDays: 1, now: Date.now() });
      const result = await server.handshake(port, ca.certPem, { certPem: issued.certPem, keyPem: connector.keyPem });
      assert.equal(result.served, true);
      assert.equal(result.server.authorized, true);
      const peer = result.server.peer;
      assert.ok(peer);
      assert.equal(normalizeFingerprint(peer.fingerprint256), issued.fingerprint256);
      const verdict = ca.verifyClientCertificate(peer.raw, Date.now());
      assert.ok(verdict.ok);
      assert.equal(verdict.connectorId, 'c-tls');
    });

    it('refuses a client without a certificate', async () => {
      const result = await server.handshake(port, ca.certPem, undefined);
      assert.equal(result.served, false);
      assert.equal(result.server.authorized, false);
    });

    it('refuses a certificate from another CA with the same name', async () => {
      const impostor = new ConnectorCa(createConnectorCa());
      const forged = impostor.issueClientCertificate(connector.csr, { connectorId: 'c-tls', group: 'default' }, { validDays: 1, now: Date.now() });
      const result = await server.handshake(port, ca.certPem, { certPem: forged.certPem, keyPem: connector.keyPem });
      assert.equal(result.served, false);
      assert.equal(result.server.authorized, false);
      assert.deepEqual(ca.verifyClientCertificate(forged.certPem, Date.now()), { ok: false, reason: 'not_issued_by_ca' });
    });

    it('refuses an expired certificate, in TLS and in the second check', async () => {
      const now = Date.now();
      const expired = ca.issueClientCertificate(
        connector.csr,
        { connectorId: 'c-old', group: 'default' },
        {
          validDays: 1,
          now: now - 3 * DAY_MS,
        },
      );
      assert.ok(expired.notAfter.getTime() < now);
      const result = await server.handshake(port, ca.certPem, { certPem: expired.certPem, keyPem: connector.keyPem });
      assert.equal(result.served, false);
      assert.equal(result.server.authorized, false);
      assert.deepEqual(ca.verifyClientCertificate(expired.certPem, now), { ok: false, reason: 'expired' });
    });

    it("refuses the CA's server certificate used as a client certificate", async () => {
      const serverIdentity = ca.issueServerCertificate(['localhost'], { validDays: 1, now: Date.now() });
      const result = await server.handshake(port, ca.certPem, serverIdentity);
      assert.equal(result.served, false);
      assert.equal(result.server.authorized, false);
      assert.deepEqual(ca.verifyClientCertificate(serverIdentity.certPem, Date.now()), { ok: false, reason: 'wrong_usage' });
    });

    it('lets a connector that trusts the CA verify the listener (server side of mTLS)', async () => {
      const stranger = createConnectorCa();
      const issued = ca.issueClientCertificate(connector.csr, { connectorId: 'c-tls', group: 'default' }, { validDays: 1, now: Date.now() });
      // A connector pinned to another CA does not talk to this listener at all.
      const result = await server.handshake(port, stranger.certPem, { certPem: issued.certPem, keyPem: connector.keyPem });
      assert.equal(result.served, false);
      assert.equal(result.server.authorized, false);
      assert.equal(createPublicKey(stranger.keyPem).type, 'public');
    });
  });

  describe('over real TLS, with the reason OpenSSL gives', () => {
    let server: MtlsServer;
    let port: number;

    before(async () => {
      server = new MtlsServer(ca, false);
      port = await server.listen();
    });
    after(async () => {
      await server.close();
    });

    async function reasonFor(client: ClientIdentity): Promise<string | undefined> {
      const result = await server.handshake(port, ca.certPem, client);
      assert.equal(result.served, result.server.authorized);
      return result.server.authorizationError;
    }

    it('names what is wrong with each refused certificate', async () => {
      const now = Date.now();
      const subject = { connectorId: 'c-why', group: 'default' };
      const good = ca.issueClientCertificate(connector.csr, subject, { validDays: 1, now });
      const expired = ca.issueClientCertificate(connector.csr, subject, { validDays: 1, now: now - 3 * DAY_MS });
      const future = ca.issueClientCertificate(connector.csr, subject, { validDays: 1, now: now + 3 * DAY_MS });
      const foreign = new ConnectorCa(createConnectorCa()).issueClientCertificate(connector.csr, subject, { validDays: 1, now });
      const serverIdentity = ca.issueServerCertificate(['localhost'], { validDays: 1, now });
      const keyPem = connector.keyPem;
      assert.equal(await reasonFor({ certPem: good.certPem, keyPem }), undefined);
      assert.equal(await reasonFor({ certPem: expired.certPem, keyPem }), 'CERT_HAS_EXPIRED');
      assert.equal(await reasonFor({ certPem: future.certPem, keyPem }), 'CERT_NOT_YET_VALID');
      assert.equal(await reasonFor({ certPem: foreign.certPem, keyPem }), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      assert.equal(await reasonFor(serverIdentity), 'INVALID_PURPOSE');
      assert.deepEqual(ca.verifyClientCertificate(future.certPem, now), { ok: false, reason: 'not_yet_valid' });
    });
  });

  describe('EC P-256 connector keys', () => {
    let now: number;
    let ec: { keyPem: string; csr: VerifiedCsr };
    let issued: IssuedCertificate;

    before(() => {
      now = Date.now();
      const { keyPem, csrPem } = createKeyAndCsr({ keyType: 'ec' });
      ec = { keyPem, csr: verifyCsr(csrPem) };
      issued = ca.issueClientCertificate(ec.csr, { connectorId: 'c-ec', group: 'default' }, { validDays: 30, now });
    });

    it('certifies the EC key, signed by the RSA CA, for client authentication and signatures only', () => {
      const x509 = new X509Certificate(issued.certPem);
      assert.equal(x509.subject, 'CN=c-ec\nOU=default');
      assert.equal(x509.publicKey.asymmetricKeyType, 'ec');
      assert.equal(x509.publicKey.export({ type: 'spki', format: 'pem' }), ec.csr.publicKeyPem);
      assert.equal(x509.checkPrivateKey(createPrivateKey(ec.keyPem)), true);
      assert.equal(x509.verify(new X509Certificate(ca.certPem).publicKey), true);
      assert.equal(x509.ca, false);
      assert.deepEqual(x509.keyUsage, [CLIENT_AUTH]);
      // RFC 5480 §3: no keyEncipherment for an EC key.
      const cert = certificateFromDer(x509.raw);
      const usage = cert.getExtension('keyUsage') as Record<string, boolean>;
      assert.deepEqual([usage['digitalSignature'], usage['keyEncipherment'], usage['keyCertSign']], [true, false, false]);
      const aki = cert.getExtension('authorityKeyIdentifier') as { value: string };
      const caSki = forgeCertificate(ca.certPem).getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier: string };
      assert.ok(forge.util.bytesToHex(aki.value).endsWith(caSki.subjectKeyIdentifier));
      const ski = cert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier: string };
      const point = createPublicKey(ec.keyPem).export({ type: 'spki', format: 'der' }).subarray(-65);
      assert.equal(ski.subjectKeyIdentifier, createHash('sha1').update(point).digest('hex'));
    });

    it('passes the second check, as PEM and as DER', () => {
      const verdict = ca.verifyClientCertificate(issued.certPem, now);
      assert.deepEqual(verdict, {
        ok: true,
        connectorId: 'c-ec',
        group: 'default',
        serialNumber: issued.serialNumber,
        fingerprint256: issued.fingerprint256,
        notBefore: issued.notBefore,
        notAfter: issued.notAfter,
      });
      assert.deepEqual(ca.verifyClientCertificate(new X509Certificate(issued.certPem).raw, now), verdict);
    });

    it('refuses a flipped bit in the EC key as not issued by the CA', () => {
      const der = Buffer.from(new X509Certificate(issued.certPem).raw);
      const point = createPublicKey(ec.keyPem).export({ format: 'jwk' }).x ?? '';
      const index = der.indexOf(Buffer.from(point, 'base64url').subarray(8, 16));
      assert.ok(index > 0);
      der[index] = (der[index] ?? 0) ^ 0x01;
      assert.deepEqual(ca.verifyClientCertificate(der, now), { ok: false, reason: 'not_issued_by_ca' });
    });

    it('refuses an EC certificate from another CA with the same name', () => {
      const forged = new ConnectorCa(createConnectorCa()).issueClientCertificate(ec.csr, { connectorId: 'c-ec', group: 'default' }, { validDays: 30, now });
      assert.deepEqual(ca.verifyClientCertificate(forged.certPem, now), { ok: false, reason: 'not_issued_by_ca' });
    });

    it('authenticates over real TLS with the EC key', async () => {
      const server = new MtlsServer(ca);
      const port = await server.listen();
      try {
        const result = await server.handshake(port, ca.certPem, { certPem: issued.certPem, keyPem: ec.keyPem });
        assert.equal(result.served, true);
        assert.equal(result.server.authorized, true);
        const verdict = ca.verifyClientCertificate(result.server.peer?.raw ?? Buffer.alloc(0), Date.now());
        assert.ok(verdict.ok);
        assert.equal(verdict.connectorId, 'c-ec');
      } finally {
        await server.close();
      }
    });
  });
});
