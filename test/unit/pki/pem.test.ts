import assert from 'node:assert/strict';
import { createConnectorCa } from '../../../src/pki/connector-ca.ts';
import { certificateBundleToPem, parseCertificateBundle } from '../../../src/pki/pem.ts';

describe('PEM certificate bundles (CA files, chains)', function () {
  const certPem = createConnectorCa({ commonName: 'Bundle test CA' }).certPem;

  it('reads every certificate block and ignores the text around them, as openssl writes it', function () {
    const bundle = parseCertificateBundle(`subject=CN = Bundle test CA\nissuer=CN = Bundle test CA\n${certPem}\n# second copy\n${certPem}`);
    assert.ok(bundle.ok);
    assert.equal(bundle.certificates.length, 2);
    assert.equal(certificateBundleToPem(bundle.certificates), `${certPem.trim()}\n${certPem.trim()}\n`);
  });

  it('says what is wrong, worded to follow the file name, and which certificate of several', function () {
    assert.deepEqual(parseCertificateBundle('not pem'), { ok: false, problem: 'holds no PEM certificate ("-----BEGIN CERTIFICATE-----")' });
    const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    assert.deepEqual(parseCertificateBundle(broken), { ok: false, problem: 'holds a certificate that does not parse' });
    assert.deepEqual(parseCertificateBundle(`${certPem}${broken}`), { ok: false, problem: 'holds a certificate that does not parse (the 2nd of 2)' });
  });
});
