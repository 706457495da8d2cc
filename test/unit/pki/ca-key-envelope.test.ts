import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openCaKey, sealCaKey } from '../../../src/pki/ca-key-envelope.ts';
import { caKeyRingProblem, parseCaKeyRing, type CaKeyRing } from '../../../src/pki/ca-key-ring.ts';
import { CaError } from '../../../src/pki/errors.ts';

const PEM = '-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END PRIVATE KEY-----\n';
const line = (id?: string): string => `${id === undefined ? '' : `${id}:`}${randomBytes(32).toString('base64')}`;
const ring = (text: string): CaKeyRing => {
  const parsed = parseCaKeyRing(text);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
};
const problem = (text: string): string => caKeyRingProblem(text) ?? 'no problem';
const refusedWith = (code: string) => (error: unknown) => error instanceof CaError && error.code === code;

describe('pki: the CA key envelope', () => {
  it('opens what it sealed, and the envelope names its version and key id but holds no PEM', () => {
    const keys = ring(line('2026-12'));
    const sealed = sealCaKey(PEM, keys[0]);
    assert.equal(sealed.v, 1);
    assert.equal(sealed.alg, 'A256GCM');
    assert.equal(sealed.kid, '2026-12');
    assert.doesNotMatch(JSON.stringify(sealed), /PRIVATE KEY/);
    assert.equal(openCaKey(JSON.parse(JSON.stringify(sealed)), keys), PEM);
    // Sealing twice gives two envelopes (a fresh nonce each time).
    assert.notEqual(sealCaKey(PEM, keys[0]).data, sealed.data);
  });

  it('refuses an altered ciphertext, tag, nonce or relabelled key id with ERR_CA_KEY_MISMATCH', () => {
    const keys = ring(`a:${randomBytes(32).toString('base64')}\nb:${randomBytes(32).toString('base64')}`);
    const sealed = sealCaKey(PEM, keys[0]);
    const flip = (value: string): string => {
      const bytes = Buffer.from(value, 'base64url');
      bytes[0] = (bytes[0] ?? 0) ^ 1;
      return bytes.toString('base64url');
    };
    for (const altered of [{ data: flip(sealed.data) }, { tag: flip(sealed.tag) }, { iv: flip(sealed.iv) }, { tag: sealed.tag.slice(4) }]) {
      assert.throws(() => openCaKey({ ...sealed, ...altered }, keys), refusedWith('ERR_CA_KEY_MISMATCH'), JSON.stringify(Object.keys(altered)));
    }
    // The key id is authenticated: pointing the envelope at the other configured key does not open it.
    const relabelled = { ...sealed, kid: 'b' };
    assert.throws(() => openCaKey(relabelled, [keys[1] ?? keys[0], keys[0]]), refusedWith('ERR_CA_KEY_MISMATCH'));
  });

  it('refuses a wrong key, an absent key id and a missing key with one clear sentence each', () => {
    const sealed = sealCaKey(PEM, ring(line('k1'))[0]);
    assert.throws(
      () => openCaKey(sealed, ring(line('k1'))),
      (error: unknown) => {
        assert.ok(refusedWith('ERR_CA_KEY_MISMATCH')(error));
        assert.match((error as Error).message, /does not decrypt with the configured CA key "k1": the key is wrong/);
        return true;
      },
    );
    assert.throws(() => openCaKey(sealed, ring(line('k2'))), /encrypted with key id "k1", which is not among the configured CA keys \("k2"\)/);
    assert.throws(() => openCaKey(sealed, undefined), refusedWith('ERR_CA_KEY_MISSING'));
    assert.throws(() => openCaKey({ ...sealed, v: 2 }, ring(line('k1'))), refusedWith('ERR_CA_INVALID'));
  });

  it('opens an envelope sealed with a previous key once the ring lists a new current key first', () => {
    const old = line('old');
    const sealed = sealCaKey(PEM, ring(old)[0]);
    const rotated = ring(`${line('new')}\n${old}`);
    assert.equal(rotated[0].id, 'new');
    assert.equal(openCaKey(sealed, rotated), PEM);
  });
});

describe('pki: the CA key list', () => {
  it('reads lines, commas, comments and ids; a key without an id gets a stable one from its bytes', () => {
    const plain = randomBytes(32).toString('base64');
    const keys = ring(`# current\nnew:${randomBytes(32).toString('base64')}\n\n${plain}`);
    assert.deepEqual(
      keys.map((key) => key.id),
      ['new', ring(plain)[0].id],
    );
    assert.match(ring(plain)[0].id, /^[0-9a-f]{12}$/);
    assert.equal(ring(`${line('a')},${line('b')}`).length, 2);
  });

  it('says what is wrong with a key that is not base64 of 32 bytes, a bad id, a repeated id or no key', () => {
    assert.match(problem(randomBytes(16).toString('base64')), /key 1 is not base64 of 32 bytes; make one with "openssl rand -base64 32"/);
    assert.match(problem(`${line('a')}\nnot-base64!`), /key 2 is not base64/);
    assert.match(problem(`bad!:${randomBytes(32).toString('base64')}`), /key 1: the id before ":" must be/);
    assert.match(problem(`${line('a')}\n${line('a')}`), /the id "a" is used twice/);
    assert.match(problem('# nothing\n'), /holds no key/);
  });
});
