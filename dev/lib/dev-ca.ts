import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

export interface DevCa {
  certPem: string;
  keyPem: string;
  issueServerCertificate(hostnames: string[], opts?: { validDays?: number }): IssuedCertificate;
}

export interface CreateDevCaOptions {
  commonName?: string;
  validDays?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
// Certificates start a little in the past so that a peer whose clock lags ours
// does not reject a certificate we have just issued as "not yet valid".
const BACKDATE_MS = 5 * 60 * 1000;

interface RsaKeyPair {
  publicKey: forge.pki.rsa.PublicKey;
  privateKey: forge.pki.rsa.PrivateKey;
  privateKeyPem: string;
}

// node-forge's own RSA generation is pure JavaScript and takes seconds per key;
// OpenSSL does it in milliseconds, and forge only has to sign.
function generateRsaKeyPair(modulusLength = 2048): RsaKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    publicKey: forge.pki.publicKeyFromPem(publicKey),
    privateKey: forge.pki.privateKeyFromPem(privateKey),
    privateKeyPem: privateKey,
  };
}

// A DER INTEGER must be minimal and positive: a leading byte in 0x40..0x7f
// avoids both a sign bit and a redundant leading zero that strict parsers refuse.
function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, validDays: number): void {
  const now = Date.now();
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  cert.validity.notAfter = new Date(now + validDays * DAY_MS);
}

type AltName = { type: 2; value: string } | { type: 7; ip: string };

function altNameFor(hostname: string): AltName {
  return isIP(hostname) === 0 ? { type: 2, value: hostname } : { type: 7, ip: hostname };
}

export function createDevCa(opts: CreateDevCaOptions = {}): DevCa {
  const commonName = opts.commonName ?? 'Gatehouse Dev CA';
  const caValidDays = opts.validDays ?? 365;
  const caKeys = generateRsaKeyPair(3072);

  const caCert = forge.pki.createCertificate();
  caCert.publicKey = caKeys.publicKey;
  caCert.serialNumber = randomSerialHex();
  validity(caCert, caValidDays);
  const caSubject = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'Gatehouse development' },
  ];
  caCert.setSubject(caSubject);
  caCert.setIssuer(caSubject);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  caCert.sign(caKeys.privateKey, forge.md.sha256.create());
  const caKeyIdentifier = caCert.generateSubjectKeyIdentifier().getBytes();

  const certPem = forge.pki.certificateToPem(caCert);

  return {
    certPem,
    keyPem: caKeys.privateKeyPem,
    issueServerCertificate(hostnames, issueOpts = {}) {
      if (hostnames.length === 0) {
        throw new TypeError('issueServerCertificate needs at least one hostname');
      }
      const leafKeys = generateRsaKeyPair(2048);
      const cert = forge.pki.createCertificate();
      cert.publicKey = leafKeys.publicKey;
      cert.serialNumber = randomSerialHex();
      // A leaf must not outlive the CA that vouches for it.
      const leafDays = Math.min(issueOpts.validDays ?? 30, caValidDays);
      validity(cert, leafDays);
      cert.setSubject([{ name: 'commonName', value: hostnames[0] ?? '' }]);
      cert.setIssuer(caCert.subject.attributes);
      cert.setExtensions([
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [...new Set(hostnames)].map(altNameFor) },
        { name: 'subjectKeyIdentifier' },
        { name: 'authorityKeyIdentifier', keyIdentifier: caKeyIdentifier },
      ]);
      cert.sign(caKeys.privateKey, forge.md.sha256.create());
      return { certPem: forge.pki.certificateToPem(cert), keyPem: leafKeys.privateKeyPem };
    },
  };
}
