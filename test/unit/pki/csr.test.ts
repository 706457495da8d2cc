import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { MAX_CSR_PEM_BYTES } from '../../../src/limits.ts';
import { connectorKeyTypeOf, createCsrForKey } from '../../../src/pki/create-key-and-csr.ts';
import { createKeyAndCsr, verifyCsr } from '../../../src/pki/csr.ts';
import { CsrError, type CsrErrorCode } from '../../../src/pki/errors.ts';
import { encodePem } from '../../../src/pki/pem.ts';

const A = forge.asn1;
const OID_SHA256_RSA = '1.2.840.113549.1.1.11';
const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_ED25519 = '1.3.101.112';

function spkiDer(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: 'spki', format: 'der' });
}

function asn1FromBuffer(der: Buffer): forge.asn1.Asn1 {
  return A.fromDer(der.toString('binary'));
}

function derOf(node: forge.asn1.Asn1): Buffer {
  return Buffer.from(A.toDer(node).getBytes(), 'binary');
}

interface CsrParts {
  spki: Buffer;
  signatureOid: string;
  /** RSA algorithms carry NULL parameters; ECDSA and EdDSA none. */
  nullParameters: boolean;
  sign: (info: Buffer) => Buffer;
  commonName?: string;
}

/**
 * Builds a PKCS#10 request by hand, so the tests can make what forge will not
 * (EC and Ed25519 keys, 1024-bit keys, foreign signatures, altered subjects).
 */
function buildCsr(parts: CsrParts): { pem: string; signature: Buffer } {
  const subject = A.create(A.Class.UNIVERSAL, A.Type.SEQUENCE, true, [
    A.create(A.Class.UNIVERSAL, A.Type.SET, true, [
      A.create(A.Class.UNIVERSAL, A.Type.SEQUENCE, true, [
        A.create(A.Class.UNIVERSAL, A.Type.OID, false, A.oidToDer('2.5.4.3').getBytes()),
        A.create(A.Class.UNIVERSAL, A.Type.UTF8, false, parts.commonName ?? 'gatehouse-connector'),
      ]),
    ]),
  ]);
  const info = A.create(A.Class.UNIVERSAL, A.Type.SEQUENCE, true, [
    A.create(A.Class.UNIVERSAL, A.Type.INTEGER, false, '\x00'),
    subject,
    asn1FromBuffer(parts.spki),
    A.create(A.Class.CONTEXT_SPECIFIC, 0, true, []),
  ]);
  const signature = parts.sign(derOf(info));
  const algorithm = A.create(A.Class.UNIVERSAL, A.Type.SEQUENCE, true, [
    A.create(A.Class.UNIVERSAL, A.Type.OID, false, A.oidToDer(parts.signatureOid).getBytes()),
    ...(parts.nullParameters ? [A.create(A.Class.UNIVERSAL, A.Type.NULL, false, '')] : []),
  ]);
  const request = A.create(A.Class.UNIVERSAL, A.Type.SEQUENCE, true, [
    info,
    algorithm,
    A.create(A.Class.UNIVERSAL, A.Type.BITSTRING, false, `\x00${signature.toString('binary')}`),
  ]);
  return { pem: encodePem('CERTIFICATE REQUEST', derOf(request)), signature };
}

function rsaCsr(bits: number, commonName?: string): { pem: string; signature: Buffer; privateKey: KeyObject } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const built = buildCsr({
    spki: spkiDer(privateKey),
    signatureOid: OID_SHA256_RSA,
    nullParameters: true,
    sign: (info) => sign('sha256', info, privateKey),
    ...(commonName === undefined ? {} : { commonName }),
  });
  return { ...built, privateKey };
}

function ecCsr(namedCurve: string, signatureOid = OID_ECDSA_SHA256): { pem: string; signature: Buffer; privateKey: KeyObject } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve });
  const built = buildCsr({ spki: spkiDer(privateKey), signatureOid, nullParameters: false, sign: (info) => sign('sha256', info, privateKey) });
  return { ...built, privateKey };
}

function derOfPem(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
}

function expectCode(input: string, code: CsrErrorCode): CsrError {
  let caught: unknown;
  try {
    verifyCsr(input);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof CsrError, `expected a CsrError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

function nestedSequences(depth: number): Buffer {
  let inner = Buffer.alloc(0);
  for (let i = 0; i < depth; i += 1) {
    const length = inner.length < 0x80 ? Buffer.from([inner.length]) : Buffer.from([0x82, inner.length >> 8, inner.length & 0xff]);
    inner = Buffer.concat([Buffer.from([0x30]), length, inner]);
  }
  return inner;
}

describe('pki: certificate requests', function () {
  this.timeout(60_000);
  let valid: { keyPem: string; csrPem: string };

  before(() => {
    valid = createKeyAndCsr({ bits: 2048 });
  });

  describe('createKeyAndCsr', () => {
    it('makes a 3072-bit key and a request the service accepts', () => {
      const { keyPem, csrPem } = createKeyAndCsr();
      const verified = verifyCsr(csrPem);
      assert.equal(verified.keyBits, 3072);
      const expected = createPublicKey(keyPem).export({ type: 'spki', format: 'pem' }).toString();
      assert.equal(verified.publicKeyPem, expected);
      assert.match(verified.publicKeyFingerprint256, /^[0-9a-f]{64}$/);
      // forge can read what we made, so does any PKCS#10 parser built on it.
      assert.equal(forge.pki.certificationRequestFromPem(csrPem).verify(), true);
    });

    it('refuses key sizes below 2048 bits as a caller mistake', () => {
      assert.throws(() => createKeyAndCsr({ bits: 1024 }), { name: 'PkiArgumentError', code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => createKeyAndCsr({ bits: 2049 }), { code: 'ERR_INVALID_ARG_VALUE' });
    });
  });

  describe('verifyCsr accepts', () => {
    it('a request built by hand with a 2048-bit key (control for the hostile cases)', () => {
      assert.equal(verifyCsr(rsaCsr(2048).pem).keyBits, 2048);
    });

    it('the "NEW CERTIFICATE REQUEST" label and CRLF line ends', () => {
      const lf = valid.csrPem.replaceAll('\r\n', '\n');
      const renamed = lf.replaceAll('CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST').replaceAll('\n', '\r\n');
      assert.equal(verifyCsr(renamed).keyBits, 2048);
      assert.equal(verifyCsr(lf).keyBits, 2048);
    });

    it('gives the same fingerprint for the same key', () => {
      assert.equal(verifyCsr(valid.csrPem).publicKeyFingerprint256, verifyCsr(valid.csrPem).publicKeyFingerprint256);
    });
  });

  describe('verifyCsr refuses', () => {
    it('input above the size limit before parsing it', () => {
      const error = expectCode('A'.repeat(MAX_CSR_PEM_BYTES + 1), 'ERR_CSR_TOO_LARGE');
      assert.match(error.message, new RegExp(String(MAX_CSR_PEM_BYTES)));
      expectCode(valid.csrPem + ' '.repeat(MAX_CSR_PEM_BYTES), 'ERR_CSR_TOO_LARGE');
    });

    const notPem: Array<[string, string]> = [
      ['an empty string', ''],
      ['plain text', 'please sign me'],
      ['JSON', '{"csr":"x"}'],
      ['garbage base64', '-----BEGIN CERTIFICATE REQUEST-----\n!!!!****\n-----END CERTIFICATE REQUEST-----\n'],
      ['an empty body', '-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n'],
      ['mismatched boundaries', '-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE-----\n'],
      ['random bytes', encodePem('CERTIFICATE REQUEST', randomBytes(600))],
      ['an empty SEQUENCE', encodePem('CERTIFICATE REQUEST', Buffer.from([0x30, 0x00]))],
      ['a length running past the end', encodePem('CERTIFICATE REQUEST', Buffer.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff]))],
      ['deeply nested sequences', encodePem('CERTIFICATE REQUEST', nestedSequences(1000))],
    ];
    for (const [name, input] of notPem) {
      it(`${name} as malformed`, () => {
        expectCode(input, 'ERR_CSR_MALFORMED');
      });
    }

    it('a value that is not a string as malformed', () => {
      expectCode(42 as unknown as string, 'ERR_CSR_MALFORMED');
      expectCode({ pem: valid.csrPem } as unknown as string, 'ERR_CSR_MALFORMED');
    });

    it('truncated DER as malformed, at every length', () => {
      const der = derOfPem(valid.csrPem);
      for (let length = 1; length < der.length; length += 1) {
        expectCode(encodePem('CERTIFICATE REQUEST', der.subarray(0, length)), 'ERR_CSR_MALFORMED');
      }
    });

    it('trailing bytes after the request as malformed', () => {
      const der = Buffer.concat([derOfPem(valid.csrPem), Buffer.from([0x05, 0x00])]);
      expectCode(encodePem('CERTIFICATE REQUEST', der), 'ERR_CSR_MALFORMED');
    });

    it('a BER (non-DER) length as malformed', () => {
      const der = derOfPem(valid.csrPem);
      assert.equal(der[0], 0x30);
      assert.equal(der[1], 0x82);
      // Re-encode the outer length in four bytes instead of two.
      const ber = Buffer.concat([Buffer.from([0x30, 0x84, 0x00, 0x00]), der.subarray(2)]);
      expectCode(encodePem('CERTIFICATE REQUEST', ber), 'ERR_CSR_MALFORMED');
    });

    it('a PEM block of another type, naming the expected one', () => {
      const error = expectCode(valid.csrPem.replaceAll('CERTIFICATE REQUEST', 'CERTIFICATE'), 'ERR_CSR_MALFORMED');
      assert.match(error.message, /"CERTIFICATE".*"CERTIFICATE REQUEST"/);
      expectCode(valid.keyPem, 'ERR_CSR_MALFORMED');
    });

    it('two requests in one text as malformed', () => {
      expectCode(valid.csrPem + valid.csrPem, 'ERR_CSR_MALFORMED');
    });

    it('PEM headers and non-canonical base64 as malformed', () => {
      const lines = valid.csrPem.trim().split('\n');
      expectCode([lines[0], 'Proc-Type: 4,ENCRYPTED', '', ...lines.slice(1)].join('\n'), 'ERR_CSR_MALFORMED');
      // "MAA=" and "MAB=" decode to the same bytes; only the first is canonical.
      expectCode('-----BEGIN CERTIFICATE REQUEST-----\nMAB=\n-----END CERTIFICATE REQUEST-----\n', 'ERR_CSR_MALFORMED');
    });

    it('a certificate dressed as a request as malformed', () => {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const cert = forge.pki.createCertificate();
      cert.publicKey = forge.pki.publicKeyFromPem(createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString());
      cert.serialNumber = '01';
      cert.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()), forge.md.sha256.create());
      const der = Buffer.from(A.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
      expectCode(encodePem('CERTIFICATE REQUEST', der), 'ERR_CSR_MALFORMED');
    });

    it('a request whose subject was altered after signing', () => {
      const original = rsaCsr(2048, 'connector-a');
      assert.equal(verifyCsr(original.pem).keyBits, 2048);
      const altered = buildCsr({
        spki: spkiDer(original.privateKey),
        signatureOid: OID_SHA256_RSA,
        nullParameters: true,
        sign: () => original.signature,
        commonName: 'connector-b',
      });
      const error = expectCode(altered.pem, 'ERR_CSR_SIGNATURE');
      assert.match(error.message, /altered after signing/);
    });

    it('a request for one key signed with another', () => {
      const signer = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      const claimed = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      const { pem } = buildCsr({
        spki: spkiDer(claimed),
        signatureOid: OID_SHA256_RSA,
        nullParameters: true,
        sign: (info) => sign('sha256', info, signer),
      });
      expectCode(pem, 'ERR_CSR_SIGNATURE');
    });

    it('a flipped bit in the signature', () => {
      const der = derOfPem(valid.csrPem);
      der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
      expectCode(encodePem('CERTIFICATE REQUEST', der), 'ERR_CSR_SIGNATURE');
    });

    it('a SHA-1 signature, naming what is accepted', () => {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const csr = forge.pki.createCertificationRequest();
      csr.publicKey = forge.pki.publicKeyFromPem(createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString());
      csr.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()), forge.md.sha1.create());
      const error = expectCode(forge.pki.certificationRequestToPem(csr), 'ERR_CSR_SIGNATURE');
      assert.match(error.message, /SHA-256/);
    });

    it('a 1024-bit RSA key, naming 1024 and 2048', () => {
      const error = expectCode(rsaCsr(1024).pem, 'ERR_CSR_KEY_TOO_SMALL');
      assert.match(error.message, /1024/);
      assert.match(error.message, /2048/);
    });

    it('an Ed25519 key', () => {
      const { privateKey } = generateKeyPairSync('ed25519');
      const { pem } = buildCsr({
        spki: spkiDer(privateKey),
        signatureOid: OID_ED25519,
        nullParameters: false,
        sign: (info) => sign(null, info, privateKey),
      });
      expectCode(pem, 'ERR_CSR_KEY_TYPE');
    });

    it('an RSA key above the size limit, before any signature work', () => {
      const modulus = new forge.jsbn.BigInteger(`c${'f'.repeat(2249)}`, 16);
      const spki = derOf(forge.pki.publicKeyToAsn1(forge.pki.setRsaPublicKey(modulus, new forge.jsbn.BigInteger('65537'))));
      const { pem } = buildCsr({ spki, signatureOid: OID_SHA256_RSA, nullParameters: true, sign: () => randomBytes(1125) });
      const error = expectCode(pem, 'ERR_CSR_KEY_TYPE');
      assert.match(error.message, /9000 bits; at most 8192/);
    });

    for (const exponent of ['1', '65538']) {
      it(`an RSA public exponent of ${exponent}`, () => {
        const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
        const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
        const modulus = new forge.jsbn.BigInteger(Buffer.from(jwk.n ?? '', 'base64url').toString('hex'), 16);
        const spki = derOf(forge.pki.publicKeyToAsn1(forge.pki.setRsaPublicKey(modulus, new forge.jsbn.BigInteger(exponent))));
        const { pem } = buildCsr({ spki, signatureOid: OID_SHA256_RSA, nullParameters: true, sign: (info) => sign('sha256', info, privateKey) });
        expectCode(pem, 'ERR_CSR_KEY_TYPE');
      });
    }

    it('every single-byte corruption with a coded error, never another exception', () => {
      const der = derOfPem(valid.csrPem);
      const seen = new Set<string>();
      for (let i = 0; i < der.length; i += 3) {
        const mutated = Buffer.from(der);
        mutated[i] = (mutated[i] ?? 0) ^ (1 + (i % 255));
        try {
          verifyCsr(encodePem('CERTIFICATE REQUEST', mutated));
          // A flip inside the ignored subject can only pass if the signature still verifies: it cannot.
          assert.fail(`corruption at byte ${i} was accepted`);
        } catch (error) {
          assert.ok(error instanceof CsrError, `byte ${i}: ${String(error)}`);
          seen.add(error.code);
        }
      }
      assert.ok(seen.has('ERR_CSR_MALFORMED'));
      assert.ok(seen.has('ERR_CSR_SIGNATURE'));
    });
  });

  describe('EC P-256 keys', () => {
    it('createKeyAndCsr makes a P-256 key and an ECDSA request the service accepts', () => {
      const { keyPem, csrPem } = createKeyAndCsr({ keyType: 'ec' });
      const key = createPrivateKey(keyPem);
      assert.equal(key.asymmetricKeyType, 'ec');
      assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      const verified = verifyCsr(csrPem);
      assert.equal(verified.keyType, 'ec');
      assert.equal(verified.keyBits, 256);
      assert.equal(verified.publicKeyPem, createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString());
      // The request names ecdsa-with-SHA256 without parameters (RFC 5758 §3.2).
      const algorithm = asn1FromBuffer(derOfPem(csrPem)).value[1] as forge.asn1.Asn1;
      assert.equal((algorithm.value as forge.asn1.Asn1[]).length, 1);
      assert.equal(A.derToOid((algorithm.value as forge.asn1.Asn1[])[0]?.value as string), OID_ECDSA_SHA256);
    });

    it('createCsrForKey signs for a kept EC key, and connectorKeyTypeOf names its type', () => {
      const ec = createKeyAndCsr({ keyType: 'ec' });
      const again = verifyCsr(createCsrForKey(ec.keyPem));
      assert.equal(again.publicKeyFingerprint256, verifyCsr(ec.csrPem).publicKeyFingerprint256);
      assert.equal(connectorKeyTypeOf(ec.keyPem), 'ec');
      assert.equal(connectorKeyTypeOf(valid.keyPem), 'rsa');
      const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      assert.throws(() => createCsrForKey(p384), { name: 'PkiArgumentError' });
      assert.throws(() => createKeyAndCsr({ keyType: 'ec', bits: 2048 }), { code: 'ERR_INVALID_ARG_VALUE' });
    });

    it('verifyCsr accepts a request built by hand for a P-256 key (control for the hostile cases)', () => {
      assert.equal(verifyCsr(ecCsr('P-256').pem).keyType, 'ec');
    });

    it('refuses a request whose signature was made over other data', () => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const { pem } = buildCsr({
        spki: spkiDer(privateKey),
        signatureOid: OID_ECDSA_SHA256,
        nullParameters: false,
        sign: (info) => sign('sha256', Buffer.concat([info, Buffer.from('other data')]), privateKey),
      });
      expectCode(pem, 'ERR_CSR_SIGNATURE');
    });

    it('refuses a request for one P-256 key signed with another', () => {
      const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const { pem } = buildCsr({
        spki: spkiDer(privateKey),
        signatureOid: OID_ECDSA_SHA256,
        nullParameters: false,
        sign: (info) => sign('sha256', info, other),
      });
      expectCode(pem, 'ERR_CSR_SIGNATURE');
    });

    it('refuses an EC key signed with an RSA algorithm, naming ECDSA', () => {
      const error = expectCode(ecCsr('P-256', OID_SHA256_RSA).pem, 'ERR_CSR_SIGNATURE');
      assert.match(error.message, /ECDSA/);
    });

    for (const [curve, name] of [
      ['P-384', 'P-384'],
      ['secp256k1', 'secp256k1'],
      ['P-521', 'P-521'],
    ] as const) {
      it(`refuses an EC key on ${curve} with its own code, naming the curve and P-256`, () => {
        const error = expectCode(ecCsr(curve).pem, 'ERR_CSR_KEY_CURVE');
        assert.match(error.message, new RegExp(`curve ${name}`));
        assert.match(error.message, /P-256/);
      });
    }

    it('refuses an EC key with explicit curve parameters', () => {
      // The SPKI of a P-256 key whose named curve OID is replaced by an (empty) parameters SEQUENCE.
      const spki = asn1FromBuffer(spkiDer(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey));
      const algorithm = (spki.value as forge.asn1.Asn1[])[0] as forge.asn1.Asn1;
      (algorithm.value as forge.asn1.Asn1[])[1] = A.create(A.Class.UNIVERSAL, A.Type.SEQUENCE, true, []);
      const { pem } = buildCsr({ spki: derOf(spki), signatureOid: OID_ECDSA_SHA256, nullParameters: false, sign: () => randomBytes(70) });
      const error = expectCode(pem, 'ERR_CSR_KEY_CURVE');
      assert.match(error.message, /explicit curve parameters/);
    });

    it('refuses a P-256 point that is not on the curve as malformed', () => {
      const spki = spkiDer(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
      const offCurve = Buffer.from(spki);
      offCurve[offCurve.length - 1] = (offCurve[offCurve.length - 1] ?? 0) ^ 1;
      const { pem } = buildCsr({ spki: offCurve, signatureOid: OID_ECDSA_SHA256, nullParameters: false, sign: () => randomBytes(70) });
      expectCode(pem, 'ERR_CSR_MALFORMED');
    });
  });
});
