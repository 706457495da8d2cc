import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as jose from 'jose';
import { createDevCa, type DevCa } from '../../../dev/lib/dev-ca.ts';
import { createAuditSinks } from '../../../src/audit/create-audit-sinks.ts';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import type { GatewayConfigInput } from '../../../src/config/schema.ts';
import { assertionKeyProblem, tlsPairProblem } from '../../../src/config/pem-checks.ts';
import { startProblems } from '../../../src/config/start-problems.ts';
import { GatehouseConfigError } from '../../../src/errors/index.ts';
import { createGateway } from '../../../src/gateway/create-gateway.ts';
import { createGatewayServer } from '../../../src/gateway/standalone-server.ts';
import { MIN_SECRET_LENGTH } from '../../../src/limits.ts';

const SECRET = 'a-very-long-session-secret-of-at-least-32-chars';

function valid(): Record<string, unknown> {
  return {
    identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret: 's3cret' },
    session: { secrets: [{ id: 1, secret: SECRET }] },
    apps: [{ id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' }],
  };
}

function issuesOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof GatehouseConfigError, `expected GatehouseConfigError, got ${String(error)}`);
    return [...error.issues];
  }
  return assert.fail('the configuration was accepted');
}

const ecKey = (curve: string, type: 'pkcs8' | 'sec1' = 'pkcs8'): string =>
  generateKeyPairSync('ec', { namedCurve: curve }).privateKey.export({ type, format: 'pem' }).toString();

describe('config: what start would refuse is refused when the file is parsed (gatehouse check and createGateway alike)', () => {
  let dir: string;
  let ca: DevCa;
  const write = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return name;
  };
  const parse = (input: Record<string, unknown>): unknown => parseGatewayConfig(input, { baseDir: dir });

  before(() => {
    ca = createDevCa();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-start-checks-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe('secrets read from files', () => {
    it('refuses an empty or blank session secret file: its keys would be derived from an empty string anyone can use', () => {
      for (const content of ['', '\n', '   \n\t']) {
        const input = valid();
        input['session'] = { secrets: [{ id: 1, secretFile: write('session.key', content) }] };
        assert.deepEqual(
          issuesOf(() => parse(input)),
          [`session.secrets[0].secretFile: the secret in "session.key" must be at least ${MIN_SECRET_LENGTH} characters (the file is empty)`],
        );
        // createGateway parses once, from the object an embedder gives it: it must refuse too.
        assert.throws(() => createGateway(input as GatewayConfigInput, { baseDir: dir }), GatehouseConfigError);
      }
    });

    it('refuses an empty client secret file', () => {
      const input = valid();
      input['identityProvider'] = { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecretFile: write('client.secret', '\n') };
      assert.deepEqual(
        issuesOf(() => parse(input)),
        ['identityProvider.clientSecretFile: "client.secret" is empty'],
      );
    });
  });

  describe('certificates and keys', () => {
    it("refuses a server certificate or key that does not parse, or a key that is not the certificate's", () => {
      const server = ca.issueServerCertificate(['wiki.example.com']);
      const other = ca.issueServerCertificate(['wiki.example.com']);
      const cases: Array<[Record<string, string>, string]> = [
        [
          { certFile: write('garbage.crt', 'not a certificate\n'), keyFile: write('s.key', server.keyPem) },
          'server.tls.certFile: "garbage.crt" holds no PEM certificate',
        ],
        [
          { certFile: write('broken.crt', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), keyFile: 's.key' },
          'server.tls.certFile: "broken.crt" holds a certificate that does not parse',
        ],
        [{ certFile: write('s.crt', server.certPem), keyFile: write('garbage.key', 'nope\n') }, 'server.tls.keyFile: "garbage.key" holds no PEM private key'],
        [{ certFile: 's.crt', keyFile: write('other.key', other.keyPem) }, 'server.tls: the private key does not belong to the certificate'],
        [{ cert: server.certPem, key: 'nope' }, 'server.tls.key: holds no PEM private key'],
      ];
      for (const [tls, expected] of cases) {
        const input = valid();
        input['server'] = { tls };
        const issues = issuesOf(() => parse(input));
        assert.equal(issues.length, 1, issues.join('\n'));
        assert.ok(issues[0]!.startsWith(expected), `${issues[0]} should start with ${expected}`);
      }
      const input = valid();
      input['server'] = { tls: { certFile: 's.crt', keyFile: 's.key' } };
      assert.doesNotThrow(() => parse(input));
    });

    it('refuses an encrypted key, and a connector listener pair like the users’ one', () => {
      const encrypted = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
        cipher: 'aes-256-cbc',
        passphrase: 'x',
      });
      const input = valid();
      input['connectors'] = {
        stateDir: join(dir, 'state'),
        tls: { certFile: write('c.crt', ca.issueServerCertificate(['localhost']).certPem), keyFile: write('c.key', encrypted.toString()) },
      };
      assert.deepEqual(
        issuesOf(() => parse(input)),
        ['connectors.tls.keyFile: "c.key" holds an encrypted private key: give it unencrypted (readable by the gateway’s user only)'],
      );
    });

    it('refuses every pair the TLS listener refuses, and a key of another type, which it loads but no handshake can use', () => {
      const server = ca.issueServerCertificate(['wiki.example.com']);
      const other = ca.issueServerCertificate(['wiki.example.com']);
      const pairs: Array<[string, string]> = [
        [server.certPem, server.keyPem],
        [`${server.certPem}${ca.certPem}`, server.keyPem],
        [server.certPem, other.keyPem],
        ['garbage', server.keyPem],
        [server.certPem, 'garbage'],
      ];
      for (const [cert, key] of pairs) {
        let listenerRefuses = false;
        try {
          createServer({ cert, key }).close();
        } catch {
          listenerRefuses = true;
        }
        assert.equal(tlsPairProblem(cert, key) !== undefined, listenerRefuses);
      }
      // An RSA certificate with an EC key starts a listener whose every handshake fails ("no suitable signature algorithm").
      assert.equal(tlsPairProblem(server.certPem, ecKey('P-256'))?.part, 'pair');
    });

    it('refuses CA bundles that hold no certificate or a broken one (Node would ignore them and trust nothing more)', () => {
      const input = valid();
      input['identityProvider'] = { issuer: 'https://login.example.com', clientId: 'gatehouse', caFile: write('idp-ca.pem', 'not a CA\n') };
      input['apps'] = [
        {
          id: 'wiki',
          externalUrl: 'https://wiki.example.com',
          internalUrl: 'https://10.0.0.5:8443',
          internalTls: { ca: `${ca.certPem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n` },
        },
        { id: 'docs', externalUrl: 'https://docs.example.com', internalUrl: 'https://10.0.0.6:8443', internalTls: { caFile: 'missing.pem' } },
        { id: 'ok', externalUrl: 'https://ok.example.com', internalUrl: 'https://10.0.0.7:8443', internalTls: { caFile: write('ca.pem', ca.certPem) } },
      ];
      assert.deepEqual(
        issuesOf(() => parse(input)),
        [
          'identityProvider.caFile: "idp-ca.pem" holds no PEM certificate ("-----BEGIN CERTIFICATE-----")',
          'apps[0].internalTls.ca: holds a certificate that does not parse (the 2nd of 2)',
          'apps[1].internalTls.caFile: cannot read "missing.pem" (ENOENT)',
        ],
      );
    });

    it('refuses an identity assertion key the signer cannot import, and accepts exactly the keys it can', async () => {
      const samples: Array<[string, string]> = [
        ['P-256 PKCS#8', ecKey('P-256')],
        ['P-256 SEC1', ecKey('P-256', 'sec1')],
        ['P-384', ecKey('P-384')],
        ['RSA', ca.issueServerCertificate(['x']).keyPem],
        ['garbage', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'],
      ];
      for (const [name, pem] of samples) {
        const imported = await jose.importPKCS8(pem, 'ES256').then(
          () => true,
          () => false,
        );
        assert.equal(assertionKeyProblem(pem) === undefined, imported, `${name}: ${assertionKeyProblem(pem) ?? 'accepted'}`);
      }
      const input = valid();
      input['identityAssertion'] = { keyFile: write('assertion.key', ecKey('P-384')) };
      assert.deepEqual(
        issuesOf(() => parse(input)),
        ['identityAssertion.keyFile: "assertion.key" must be an EC P-256 key (assertions are signed with ES256), not an EC key on secp384r1'],
      );
    });
  });

  describe('what only start touches: the audit sinks and the connector state folder', () => {
    const withAudit = (audit: Record<string, unknown>, connectors?: Record<string, unknown>) => {
      const input = valid();
      input['audit'] = audit;
      if (connectors) input['connectors'] = connectors;
      return parseGatewayConfig(input, { baseDir: dir });
    };

    it('names an audit file whose folder is missing, or that is a folder, as createAuditSinks would refuse it', () => {
      const missing = withAudit({ file: { path: 'logs/audit.jsonl' } });
      assert.deepEqual(startProblems(missing), [`audit.file.path: "logs/audit.jsonl" cannot be created: its folder "${join(dir, 'logs')}" does not exist`]);
      assert.deepEqual(
        issuesOf(() => createAuditSinks(missing.audit, { baseDir: dir })),
        ['audit.file.path: cannot open "logs/audit.jsonl" (ENOENT)'],
      );
      mkdirSync(join(dir, 'logs'));
      assert.deepEqual(startProblems(missing), []);
      assert.deepEqual(startProblems(withAudit({ file: { path: 'logs' } })), ['audit.file.path: "logs" is a directory: name a file in it']);
    });

    it('reads the webhook files with the code start uses', () => {
      const config = withAudit({ webhook: { url: 'https://siem.example.com/collect', authorizationFile: 'siem.token', caFile: write('siem-ca.pem', 'nope') } });
      const expected = [
        'audit.webhook.authorizationFile: cannot read "siem.token" (ENOENT)',
        'audit.webhook.caFile: "siem-ca.pem" holds no PEM certificate ("-----BEGIN CERTIFICATE-----")',
      ];
      assert.deepEqual(startProblems(config), expected);
      assert.deepEqual(
        issuesOf(() => createAuditSinks(config.audit, { baseDir: dir })),
        expected,
      );
      write('siem.token', '\n');
      assert.deepEqual(startProblems(config)[0], 'audit.webhook.authorizationFile: "siem.token" is empty');
    });

    it('names a connector state folder that cannot be created or is not a folder', () => {
      write('a-file', 'x');
      assert.deepEqual(startProblems(withAudit({}, { stateDir: 'a-file' })), [`connectors.stateDir: "${join(dir, 'a-file')}" is not a folder`]);
      assert.deepEqual(startProblems(withAudit({}, { stateDir: 'a-file/state' })), [
        `connectors.stateDir: "${join(dir, 'a-file/state')}" cannot be created: "${join(dir, 'a-file')}" is not a folder`,
      ]);
      assert.deepEqual(startProblems(withAudit({}, { stateDir: 'new/deeper/state' })), []);
    });

    it('names what a real start refuses, with the words start uses where it shares the code', async () => {
      write('a-file', 'x');
      const server = ca.issueServerCertificate(['wiki.example.com']);
      const cases: Array<{ input: Record<string, unknown>; check: string; start: RegExp }> = [
        {
          input: { ...valid(), session: { secrets: [{ id: 1, secretFile: write('empty.key', '') }] } },
          check: `session.secrets[0].secretFile: the secret in "empty.key" must be at least ${MIN_SECRET_LENGTH} characters (the file is empty)`,
          start: /session\.secrets\[0\]\.secretFile: the secret in "empty\.key"/,
        },
        {
          input: { ...valid(), server: { host: '127.0.0.1', tls: { cert: server.certPem, key: ca.issueServerCertificate(['x']).keyPem } } },
          check: 'server.tls: the private key does not belong to the certificate (the first one of the chain must be the server’s own)',
          start: /server\.tls: the private key does not belong to the certificate/,
        },
        {
          input: { ...valid(), audit: { file: { path: 'logs/audit.jsonl' } } },
          check: `audit.file.path: "logs/audit.jsonl" cannot be created: its folder "${join(dir, 'logs')}" does not exist`,
          start: /audit\.file\.path: cannot open "logs\/audit\.jsonl" \(ENOENT\)/,
        },
        {
          input: { ...valid(), audit: { webhook: { url: 'https://siem.example.com/x', authorizationFile: 'siem.token' } } },
          check: 'audit.webhook.authorizationFile: cannot read "siem.token" (ENOENT)',
          start: /audit\.webhook\.authorizationFile: cannot read "siem\.token" \(ENOENT\)/,
        },
        {
          input: { ...valid(), connectors: { listen: { host: '127.0.0.1', port: 0 }, stateDir: 'a-file/state' } },
          check: `connectors.stateDir: "${join(dir, 'a-file/state')}" cannot be created: "${join(dir, 'a-file')}" is not a folder`,
          start: /state directory .*a-file\/state cannot be used/,
        },
      ];
      for (const { input, check, start } of cases) {
        let found: string[];
        try {
          found = startProblems(parseGatewayConfig(input, { baseDir: dir }));
        } catch (error) {
          found = error instanceof GatehouseConfigError ? [...error.issues] : [String(error)];
        }
        assert.deepEqual(found, [check]);
        let started: Awaited<ReturnType<typeof createGatewayServer>> | undefined;
        await assert.rejects(async () => {
          started = createGatewayServer(input as GatewayConfigInput, { baseDir: dir, audit: input['audit'] ? undefined : [] });
          await started.listen(0, '127.0.0.1');
        }, start);
        await started?.close();
      }
    });

    it('names a state database (store.url) whose folder cannot be created or written, or that is not a file', function () {
      const withStore = (url: string): ReturnType<typeof parseGatewayConfig> => parseGatewayConfig({ ...valid(), store: { url } }, { baseDir: dir });
      writeFileSync(join(dir, 'plain-file'), 'x');
      assert.deepEqual(startProblems(withStore('sqlite:plain-file/gatehouse.db')), [
        `store.url: "${join(dir, 'plain-file/gatehouse.db')}" cannot be used: its folder "${join(dir, 'plain-file')}" is not a folder`,
      ]);
      mkdirSync(join(dir, 'a-folder'));
      assert.deepEqual(startProblems(withStore('sqlite:a-folder')), [`store.url: "${join(dir, 'a-folder')}" is not a file`]);
      assert.deepEqual(startProblems(withStore('sqlite:fresh/deeper/gatehouse.db')), []);
      assert.deepEqual(startProblems(withStore('memory:')), []);
      if (process.getuid?.() === 0) return; // root may write anywhere
      mkdirSync(join(dir, 'read-only'));
      writeFileSync(join(dir, 'read-only', 'gatehouse.db'), '');
      chmodSync(join(dir, 'read-only', 'gatehouse.db'), 0o400);
      assert.deepEqual(startProblems(withStore('sqlite:read-only/gatehouse.db')), [
        `store.url: "${join(dir, 'read-only/gatehouse.db')}" is not writable by this user`,
      ]);
      chmodSync(join(dir, 'read-only', 'gatehouse.db'), 0o600);
      chmodSync(join(dir, 'read-only'), 0o500);
      assert.deepEqual(startProblems(withStore('sqlite:read-only/gatehouse.db')), [
        `store.url: "${join(dir, 'read-only/gatehouse.db')}" cannot be used: its folder "${join(dir, 'read-only')}" is not writable by this user`,
      ]);
      chmodSync(join(dir, 'read-only'), 0o700);
    });

    it('names a folder this user cannot write to', function () {
      if (process.getuid?.() === 0) this.skip(); // root may write anywhere
      mkdirSync(join(dir, 'locked'));
      chmodSync(join(dir, 'locked'), 0o500);
      assert.match(startProblems(withAudit({ file: { path: 'locked/audit.jsonl' } }))[0] ?? '', /is not writable by this user/);
    });
  });
});
