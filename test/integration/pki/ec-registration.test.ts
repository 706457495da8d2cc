import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { createKeyAndCsr } from '../../../src/pki/create-key-and-csr.ts';
import { encodePem } from '../../../src/pki/pem.ts';
import { startConnectorService, type ConnectorServiceHarness } from '../../support/connector-service.ts';
import { callService, type MtlsResponse } from '../../support/mtls-client.ts';

const A = forge.asn1;
const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const REGISTER = '/.gatehouse/connector/register';
const RENEW = '/.gatehouse/connector/renew';

interface Issued {
  connectorId: string;
  certificate: string;
}

interface ErrorBody {
  error: { code: string; reason: string; message: string };
}

const der = (node: forge.asn1.Asn1): Buffer => Buffer.from(A.toDer(node).getBytes(), 'binary');

/** An ECDSA-signed PKCS #10 request for any EC key; `signed` says what the signature covers. */
function ecCsr(privateKey: KeyObject, signed: (info: Buffer) => Buffer = (info) => info): string {
  const info = A.create(A.Class.UNIVERSAL, A.Type.SEQUENCE, true, [
    A.create(A.Class.UNIVERSAL, A.Type.INTEGER, false, '\x00'),
    A.create(A.Class.UNIVERSAL, A.Type.SEQUENCE, true, []),
    A.fromDer(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).toString('binary')),
    A.create(A.Class.CONTEXT_SPECIFIC, 0, true, []),
  ]);
  const signature = sign('sha256', signed(der(info)), privateKey);
  const request = A.create(A.Class.UNIVERSAL, A.Type.SEQUENCE, true, [
    info,
    A.create(A.Class.UNIVERSAL, A.Type.SEQUENCE, true, [A.create(A.Class.UNIVERSAL, A.Type.OID, false, A.oidToDer(OID_ECDSA_SHA256).getBytes())]),
    A.create(A.Class.UNIVERSAL, A.Type.BITSTRING, false, `\x00${signature.toString('binary')}`),
  ]);
  return encodePem('CERTIFICATE REQUEST', der(request));
}

const ecKey = (namedCurve: string): KeyObject => generateKeyPairSync('ec', { namedCurve }).privateKey;

describe('pki: EC requests at the connector service (real service, real identity provider)', function () {
  this.timeout(60_000);
  let harness: ConnectorServiceHarness;
  let adminToken: string;

  before(async () => {
    harness = await startConnectorService();
    adminToken = await harness.adminToken('alice');
  });
  after(async () => {
    await harness?.close();
  });
  beforeEach(() => {
    harness.audit.clear();
    harness.clock.reset();
  });

  const call = (path: string, body: unknown, identity?: { cert: string; key: string }): Promise<MtlsResponse> =>
    callService(harness.serviceUrl, harness.service.ca.certPem, {
      path,
      body,
      ...(identity ? { cert: identity.cert, key: identity.key } : { headers: { authorization: `Bearer ${adminToken}` } }),
    });

  function expectRefusal(response: MtlsResponse, reason: string): string {
    assert.equal(response.status, 400, response.body);
    const { error } = response.json<ErrorBody>();
    assert.equal(error.code, 'ERR_CSR_INVALID');
    assert.equal(error.reason, reason);
    const event = harness.audit.ofType('connector.refused').at(-1);
    assert.equal(event?.code, 'ERR_CSR_INVALID', 'audited');
    assert.equal(event?.reason, reason);
    return error.message;
  }

  it('registers a P-256 key and returns a certificate for it', async () => {
    const { keyPem, csrPem } = createKeyAndCsr({ keyType: 'ec' });
    const response = await call(REGISTER, { csr: csrPem, name: 'ec-host' });
    assert.equal(response.status, 201, response.body);
    const issued = response.json<Issued>();
    const certificate = new X509Certificate(issued.certificate);
    assert.equal(certificate.publicKey.asymmetricKeyType, 'ec');
    assert.equal(certificate.verify(new X509Certificate(harness.service.ca.certPem).publicKey), true);
    // The service accepts it on its mTLS routes too (its second check reads EC certificates).
    const renewal = await call(RENEW, { csr: createKeyAndCsr({ keyType: 'ec' }).csrPem }, { cert: issued.certificate, key: keyPem });
    assert.equal(renewal.status, 409, renewal.body);
  });

  for (const [curve, name] of [
    ['P-384', 'P-384'],
    ['secp256k1', 'secp256k1'],
  ] as const) {
    it(`refuses a ${curve} key with reason key_curve, audited, naming the curve and P-256`, async () => {
      const message = expectRefusal(await call(REGISTER, { csr: ecCsr(ecKey(curve)) }), 'key_curve');
      assert.match(message, new RegExp(name));
      assert.match(message, /P-256/);
      assert.equal(harness.audit.ofType('connector.registered').length, 0);
    });
  }

  it('refuses a P-256 request whose signature covers other data', async () => {
    const forged = ecCsr(ecKey('P-256'), (info) => Buffer.concat([info, Buffer.from('other data')]));
    expectRefusal(await call(REGISTER, { csr: forged }), 'signature');
  });

  it('applies the same checks to a renewal', async () => {
    const { keyPem, csrPem } = createKeyAndCsr({ keyType: 'ec' });
    const issued = (await call(REGISTER, { csr: csrPem })).json<Issued>();
    const identity = { cert: issued.certificate, key: keyPem };
    harness.clock.advance(31 * 86_400_000);
    expectRefusal(await call(RENEW, { csr: ecCsr(ecKey('P-384')) }, identity), 'key_curve');
    expectRefusal(await call(RENEW, { csr: ecCsr(ecKey('P-256'), (info) => Buffer.concat([info, Buffer.from('x')])) }, identity), 'signature');
  });
});
