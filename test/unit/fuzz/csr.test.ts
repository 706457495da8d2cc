import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import forge from 'node-forge';
import { createKeyAndCsr, verifyCsr, type VerifiedCsr } from '../../../src/pki/csr.ts';
import { CsrError } from '../../../src/pki/errors.ts';
import { encodePem } from '../../../src/pki/pem.ts';
import { fuzzTimeout, runs } from '../../support/fuzz-runs.ts';

/**
 * Certificate requests come from connectors that are not registered yet: anyone who holds a registration token (or
 * tries without one) can send one. Random bytes, random PEM and mutated valid requests end in a CsrError with a code,
 * never another exception; and only a correctly signed request for an RSA key of at least 2048 bits or an EC P-256
 * key is ever accepted, for the key it was signed with.
 */

const A = forge.asn1;
const CODES = new Set(['ERR_CSR_TOO_LARGE', 'ERR_CSR_MALFORMED', 'ERR_CSR_SIGNATURE', 'ERR_CSR_KEY_TYPE', 'ERR_CSR_KEY_TOO_SMALL', 'ERR_CSR_KEY_CURVE']);

interface Sample {
  readonly label: string;
  readonly pem: string;
  readonly accepted: boolean;
}

function der(node: forge.asn1.Asn1): Buffer {
  return Buffer.from(A.toDer(node).getBytes(), 'binary');
}

/** A PKCS #10 request built by hand, for key types the production code never makes (it must refuse them). */
function request(key: KeyObject, signatureOid: string, nullParameters: boolean, signInfo: (info: Buffer) => Buffer): string {
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const info = A.create(A.Class.UNIVERSAL, A.Type.SEQUENCE, true, [
    A.create(A.Class.UNIVERSAL, A.Type.INTEGER, false, '\x00'),
    A.create(A.Class.UNIVERSAL, A.Type.SEQUENCE, true, [
      A.create(A.Class.UNIVERSAL, A.Type.SET, true, [
        A.create(A.Class.UNIVERSAL, A.Type.SEQUENCE, true, [
          A.create(A.Class.UNIVERSAL, A.Type.OID, false, A.oidToDer('2.5.4.3').getBytes()),
          A.create(A.Class.UNIVERSAL, A.Type.UTF8, false, 'fuzz'),
        ]),
      ]),
    ]),
    A.fromDer(spki.toString('binary')),
    A.create(A.Class.CONTEXT_SPECIFIC, 0, true, []),
  ]);
  const signature = signInfo(der(info));
  const algorithm = A.create(A.Class.UNIVERSAL, A.Type.SEQUENCE, true, [
    A.create(A.Class.UNIVERSAL, A.Type.OID, false, A.oidToDer(signatureOid).getBytes()),
    ...(nullParameters ? [A.create(A.Class.UNIVERSAL, A.Type.NULL, false, '')] : []),
  ]);
  const root = A.create(A.Class.UNIVERSAL, A.Type.SEQUENCE, true, [
    info,
    algorithm,
    A.create(A.Class.UNIVERSAL, A.Type.BITSTRING, false, `\x00${signature.toString('binary')}`),
  ]);
  return encodePem('CERTIFICATE REQUEST', der(root));
}

function samples(): Sample[] {
  const rsa = (bits: number): Sample => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
    return {
      label: `rsa-${bits}`,
      pem: request(privateKey, '1.2.840.113549.1.1.11', true, (info) => sign('sha256', info, privateKey)),
      accepted: bits >= 2048,
    };
  };
  const ec = (curve: string): Sample => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
    return {
      label: curve,
      pem: request(privateKey, '1.2.840.10045.4.3.2', false, (info) => sign('sha256', info, privateKey)),
      accepted: curve === 'prime256v1',
    };
  };
  const ed = generateKeyPairSync('ed25519').privateKey;
  return [
    { label: 'connector-ec', pem: createKeyAndCsr({ keyType: 'ec' }).csrPem, accepted: true },
    rsa(2048),
    rsa(1024),
    ec('prime256v1'),
    ec('secp384r1'),
    ec('secp256k1'),
    { label: 'ed25519', pem: request(ed, '1.3.101.112', false, (info) => sign(null, info, ed)), accepted: false },
  ];
}

function derOf(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
}

/** verifyCsr's answer as a value: the accepted request, or the CsrError; anything else fails the property. */
function outcome(pem: string): VerifiedCsr | CsrError {
  try {
    return verifyCsr(pem);
  } catch (error) {
    assert.ok(error instanceof CsrError, `untyped error: ${String(error)}`);
    assert.ok(CODES.has(error.code), error.code);
    assert.ok(error.message.length > 0);
    return error;
  }
}

type Mutation =
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; byte: number }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; at: number };
const MUTATION: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.nat(255) }) },
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(bytes: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const mutation of mutations) {
    const at = mutation.at % Math.max(1, out.length);
    if (mutation.kind === 'set') out[at] = mutation.byte;
    else if (mutation.kind === 'insert') out = Buffer.concat([out.subarray(0, at), Buffer.from([mutation.byte]), out.subarray(at)]);
    else if (mutation.kind === 'delete') out = Buffer.concat([out.subarray(0, at), out.subarray(at + mutation.length)]);
    else out = out.subarray(0, at);
  }
  return out;
}

describe('fuzz: connector certificate requests', function () {
  this.timeout(fuzzTimeout(90_000));
  let pool: Sample[];
  const accepted = new Map<string, VerifiedCsr>();

  before(function () {
    this.timeout(120_000);
    pool = samples();
    for (const sample of pool) {
      const result = outcome(sample.pem);
      assert.equal(!(result instanceof CsrError), sample.accepted, `${sample.label}: ${result instanceof CsrError ? result.message : 'accepted'}`);
      if (!(result instanceof CsrError)) accepted.set(sample.label, result);
    }
  });

  it('random text and random bytes in PEM armour give a typed refusal', () => {
    const pem = fc.uint8Array({ maxLength: 600 }).map((bytes) => encodePem('CERTIFICATE REQUEST', bytes));
    const label = fc.constantFrom('CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST', 'CERTIFICATE', 'PRIVATE KEY');
    const armoured = fc.tuple(label, fc.base64String({ maxLength: 400 })).map(([name, body]) => `-----BEGIN ${name}-----\n${body}\n-----END ${name}-----\n`);
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), pem, armoured, fc.string({ maxLength: 20_000, unit: 'binary-ascii' })), (input) => {
        assert.ok(outcome(input) instanceof CsrError);
      }),
      runs(400),
    );
  });

  it('a mutated request is refused, or accepted for the same key it was signed with', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(MUTATION, { minLength: 1, maxLength: 3 }), fc.boolean(), (pick, mutations, otherLabel) => {
        const sample = pool[pick % pool.length]!;
        const bytes = mutate(derOf(sample.pem), mutations);
        const result = outcome(encodePem(otherLabel ? 'NEW CERTIFICATE REQUEST' : 'CERTIFICATE REQUEST', bytes));
        if (result instanceof CsrError) return;
        const original = accepted.get(sample.label);
        assert.ok(original, `${sample.label} was refused, its mutation accepted`);
        assert.equal(result.publicKeyFingerprint256, original.publicKeyFingerprint256);
        assert.equal(result.keyType, original.keyType);
        assert.ok((result.keyType === 'ec' && result.keyBits === 256) || (result.keyType === 'rsa' && result.keyBits >= 2048));
      }),
      runs(500),
    );
  });

  it('a request whose signature belongs to another key is refused', () => {
    const signer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    fc.assert(
      fc.property(fc.constantFrom('prime256v1', 'prime256v1'), () => {
        const subject = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
        const pem = request(subject, '1.2.840.10045.4.3.2', false, (info) => sign('sha256', info, signer));
        const result = outcome(pem);
        assert.ok(result instanceof CsrError && result.code === 'ERR_CSR_SIGNATURE');
      }),
      runs(50),
    );
  });
});
