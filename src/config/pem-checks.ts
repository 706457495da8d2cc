import { createPrivateKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import { parseCertificateBundle } from '../pki/pem.ts';

/**
 * Checks of the PEM material a configuration carries, made when it is parsed
 * so that `gatehouse check` and the start of a gateway refuse the same
 * things. Without them a broken server certificate stops `serve` with a bare
 * OpenSSL message, and a broken CA bundle or assertion key starts a gateway
 * that can never sign anyone in: Node ignores a `ca` it cannot parse, and the
 * assertion key is first read when the first sign-in needs it.
 *
 * Each function returns what is wrong, worded to follow the key's name, or
 * undefined when the material is usable.
 */

/** The certificates of a PEM text; a string when there is none or one does not parse. */
function certificates(pem: string): X509Certificate[] | string {
  const bundle = parseCertificateBundle(pem);
  return bundle.ok ? bundle.certificates : bundle.problem;
}

/** A CA bundle to trust (`ca`, `caFile`): at least one certificate, each one parsing. */
export function caBundleProblem(pem: string): string | undefined {
  const parsed = certificates(pem);
  return typeof parsed === 'string' ? parsed : undefined;
}

export interface TlsPairProblem {
  /** Which half is wrong: its own key names it; `pair` when each parses but they do not belong together. */
  readonly part: 'cert' | 'key' | 'pair';
  readonly problem: string;
}

/** A listener's certificate chain and private key, as `https.createServer` and `tls.createServer` will load them. */
export function tlsPairProblem(cert: string, key: string): TlsPairProblem | undefined {
  const chain = certificates(cert);
  if (typeof chain === 'string') return { part: 'cert', problem: chain };
  const privateKey = parsePrivateKey(key);
  if (typeof privateKey === 'string') return { part: 'key', problem: privateKey };
  if (!chain[0]!.checkPrivateKey(privateKey)) {
    return { part: 'pair', problem: 'the private key does not belong to the certificate (the first one of the chain must be the server’s own)' };
  }
  try {
    // What the listener itself does with them: anything OpenSSL still refuses shows here, not at start.
    createSecureContext({ cert, key });
  } catch (error) {
    return { part: 'pair', problem: `the certificate and key cannot be used together (${opensslReason(error)})` };
  }
  return undefined;
}

/**
 * The identity assertion's signing key: it is imported as a PKCS#8 PEM for
 * ES256, which takes nothing else (not an "EC PRIVATE KEY" block, not
 * another curve, not RSA).
 */
export function assertionKeyProblem(pem: string): string | undefined {
  if (!pem.startsWith('-----BEGIN PRIVATE KEY-----')) {
    return 'must be a PKCS#8 PEM private key starting with "-----BEGIN PRIVATE KEY-----" (make one with: openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)';
  }
  const key = parsePrivateKey(pem);
  if (typeof key === 'string') return key;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    const found = key.asymmetricKeyType === 'ec' ? `an EC key on ${curve ?? 'an unknown curve'}` : `an ${key.asymmetricKeyType ?? 'unknown'} key`;
    return `must be an EC P-256 key (assertions are signed with ES256), not ${found}`;
  }
  return undefined;
}

function parsePrivateKey(pem: string): KeyObject | string {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) return 'holds no PEM private key ("-----BEGIN PRIVATE KEY-----")';
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem))
    return 'holds an encrypted private key: give it unencrypted (readable by the gateway’s user only)';
  try {
    return createPrivateKey(pem);
  } catch (error) {
    return `holds a private key that does not parse (${opensslReason(error)})`;
  }
}

/** OpenSSL's reason without its error number, e.g. "key values mismatch". */
function opensslReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^error:[0-9A-F]+:[^:]*:+/, '') || 'unknown';
}

/**
 * The host names (and IP addresses) of `hosts` the server certificate does
 * not cover, by its subject alternative names (wildcards one label deep, as
 * browsers match them). Its common name counts only when it has no DNS name,
 * as for browsers.
 */
export function uncoveredHosts(cert: string, hosts: readonly string[]): string[] {
  const chain = certificates(cert);
  if (typeof chain === 'string') return [];
  const leaf = chain[0]!;
  return hosts.filter((host) => {
    const bare = host.replace(/^\[|\]$/g, '');
    return isIP(bare) !== 0 ? leaf.checkIP(bare) === undefined : leaf.checkHost(bare, { wildcards: true, partialWildcards: false }) === undefined;
  });
}
