import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import forge from 'node-forge';
import { createConnectorCa, ConnectorCa } from '../../src/pki/connector-ca.ts';
import { createKeyAndCsr, verifyCsr } from '../../src/pki/csr.ts';
import { CONNECTOR_RESOURCE } from '../../dev/lib/device-approval.ts';
import { startConnectorService, type ConnectorServiceHarness } from '../support/connector-service.ts';
import { callService, type MtlsResponse } from '../support/mtls-client.ts';

interface Issued {
  connectorId: string;
  group: string;
  certificate: string;
  caChain: string[];
  notAfter: string;
}

interface ErrorBody {
  error: { code: string; reason: string; message: string; requestId: string };
}

describe('attack: the connector plane (registration, mTLS, groups, renewal, revocation)', function () {
  this.timeout(60_000);
  let harness: ConnectorServiceHarness;
  let caPem: string;
  let adminToken: string;
  let staffToken: string;

  before(async () => {
    harness = await startConnectorService({ connectors: { renewalGrace: '10m' } });
    caPem = harness.service.ca.certPem;
    adminToken = await harness.adminToken('alice');
    staffToken = await harness.adminToken('bob');
  });
  after(async () => {
    await harness.close();
  });
  beforeEach(() => {
    harness.audit.clear();
    harness.clock.reset();
  });

  const call = (path: string, options: { token?: string; body?: unknown; cert?: string; key?: string; method?: string } = {}): Promise<MtlsResponse> =>
    callService(harness.serviceUrl, caPem, {
      path,
      ...(options.method ? { method: options.method } : {}),
      ...(options.body !== undefined ? { body: options.body } : {}),
      ...(options.token ? { headers: { authorization: `Bearer ${options.token}` } } : {}),
      ...(options.cert ? { cert: options.cert, key: options.key! } : {}),
    });

  async function register(group = 'default'): Promise<Issued & { key: string }> {
    const { keyPem, csrPem } = createKeyAndCsr();
    const response = await call('/.gatehouse/connector/register', { token: adminToken, body: { csr: csrPem, group, name: 'host01' } });
    assert.equal(response.status, 201, response.body);
    return { ...response.json<Issued>(), key: keyPem };
  }

  function expectRefusal(response: MtlsResponse, status: number, code: string, reason: string): void {
    assert.equal(response.status, status, response.body);
    const body = response.json<ErrorBody>();
    assert.equal(body.error.code, code);
    assert.equal(body.error.reason, reason);
    assert.ok(body.error.message.length > 20, 'a sentence an operator can act on');
    const event = harness.audit.ofType('connector.refused').at(-1);
    assert.equal(event?.code, code, 'audit event');
    assert.equal(event?.reason, reason);
  }

  describe('registration', () => {
    it('registers with an admin token and a CSR, and answers the certificate and CA chain', async () => {
      const issued = await register();
      assert.match(issued.connectorId, /^c-[0-9a-f]{20}$/);
      assert.equal(issued.group, 'default');
      assert.deepEqual(issued.caChain, [caPem]);
      const cert = forge.pki.certificateFromPem(issued.certificate);
      assert.equal((cert.subject.getField('CN') as { value: string }).value, issued.connectorId);
      assert.ok(forge.pki.certificateFromPem(caPem).verify(cert));
      const event = harness.audit.ofType('connector.registered').at(-1);
      assert.equal(event?.user?.sub, 'user-alice');
      assert.equal(event?.details?.['connectorId'], issued.connectorId);
      const record = harness.service.registry.get(issued.connectorId);
      assert.equal(record?.certificate.fingerprint256.length, 64);
      assert.equal(record?.registeredBy, 'user-alice');
    });

    it('refuses a request without a token', async () => {
      expectRefusal(await call('/.gatehouse/connector/register', { body: { csr: createKeyAndCsr().csrPem } }), 401, 'ERR_ADMIN_TOKEN_MISSING', 'missing');
    });

    it("refuses a non-admin's token", async () => {
      expectRefusal(
        await call('/.gatehouse/connector/register', { token: staffToken, body: { csr: createKeyAndCsr().csrPem } }),
        401,
        'ERR_ADMIN_TOKEN_INVALID',
        'not_admin',
      );
    });

    it('refuses an expired token (controlled clock)', async () => {
      harness.clock.advance(2 * 3600 * 1000);
      expectRefusal(
        await call('/.gatehouse/connector/register', { token: adminToken, body: { csr: createKeyAndCsr().csrPem } }),
        401,
        'ERR_ADMIN_TOKEN_INVALID',
        'expired',
      );
    });

    it("refuses a token from another issuer, even signed with the provider's key", async () => {
      const forged = await forgeToken({ iss: 'https://other-tenant.example' });
      expectRefusal(
        await call('/.gatehouse/connector/register', { token: forged, body: { csr: createKeyAndCsr().csrPem } }),
        401,
        'ERR_ADMIN_TOKEN_INVALID',
        'iss_mismatch',
      );
    });

    it('refuses a token from another issuer signed with its own key', async () => {
      const { privateKey } = await generateKeyPair('RS256', { extractable: true });
      const forged = await forgeToken({ iss: 'https://other-tenant.example' }, { ...(await exportJWK(privateKey)), kid: 'other-kid', alg: 'RS256' });
      expectRefusal(
        await call('/.gatehouse/connector/register', { token: forged, body: { csr: createKeyAndCsr().csrPem } }),
        401,
        'ERR_ADMIN_TOKEN_INVALID',
        'unknown_key',
      );
    });

    it('refuses a token for another audience', async () => {
      const forged = await forgeToken({ aud: 'https://some-other-api.example' });
      expectRefusal(
        await call('/.gatehouse/connector/register', { token: forged, body: { csr: createKeyAndCsr().csrPem } }),
        401,
        'ERR_ADMIN_TOKEN_INVALID',
        'aud_mismatch',
      );
    });

    it('refuses an unsigned token', async () => {
      const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
      const unsigned = `${encode({ alg: 'none', typ: 'at+jwt' })}.${encode(baseClaims())}.`;
      const response = await call('/.gatehouse/connector/register', { token: unsigned, body: { csr: createKeyAndCsr().csrPem } });
      assert.equal(response.status, 401);
      assert.equal(response.json<ErrorBody>().error.code, 'ERR_ADMIN_TOKEN_INVALID');
    });

    it('refuses a malformed CSR', async () => {
      for (const csr of ['garbage', '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', createKeyAndCsr().csrPem.slice(0, 300)]) {
        expectRefusal(await call('/.gatehouse/connector/register', { token: adminToken, body: { csr } }), 400, 'ERR_CSR_INVALID', 'malformed');
      }
    });

    it('refuses a 1024-bit key and says what is required', async () => {
      const response = await call('/.gatehouse/connector/register', { token: adminToken, body: { csr: smallKeyCsr(1024) } });
      expectRefusal(response, 400, 'ERR_CSR_INVALID', 'key_too_small');
      assert.match(response.json<ErrorBody>().error.message, /1024/);
      assert.match(response.json<ErrorBody>().error.message, /2048/);
    });

    it('refuses an unknown group and a malformed body', async () => {
      expectRefusal(
        await call('/.gatehouse/connector/register', { token: adminToken, body: { csr: createKeyAndCsr().csrPem, group: 'nobody-uses-this' } }),
        400,
        'ERR_UNKNOWN_GROUP',
        'unknown_group',
      );
      const response = await call('/.gatehouse/connector/register', { token: adminToken, body: '{"csr": ' });
      assert.equal(response.status, 400);
      const big = await call('/.gatehouse/connector/register', { token: adminToken, body: { csr: 'x'.repeat(200 * 1024) } });
      assert.equal(big.status, 413);
    });
  });

  describe('mTLS on every other route', () => {
    it('serves the configuration of its own group to a registered connector', async () => {
      const connector = await register('hr');
      const response = await call('/.gatehouse/connector/config', { cert: connector.certificate, key: connector.key });
      assert.equal(response.status, 200, response.body);
      const config = response.json<{ group: string; apps: Array<{ id: string; internalUrl: string }>; version: number; renewal: { due: boolean } }>();
      assert.equal(config.group, 'hr');
      assert.deepEqual(config.apps, [{ id: 'hr', internalUrl: 'http://10.30.0.7:9000' }]);
      assert.equal(config.renewal.due, false);
    });

    it('refuses the configuration of another group', async () => {
      const connector = await register('hr');
      expectRefusal(
        await call('/.gatehouse/connector/config?group=default', { cert: connector.certificate, key: connector.key }),
        403,
        'ERR_CONNECTOR_GROUP',
        'other_group',
      );
    });

    it('refuses a call without a client certificate', async () => {
      expectRefusal(await call('/.gatehouse/connector/config'), 401, 'ERR_CERT_REFUSED', 'no_certificate');
    });

    it('refuses a self-signed client certificate', async () => {
      const { cert, key } = selfSigned();
      expectRefusal(await call('/.gatehouse/connector/config', { cert, key }), 401, 'ERR_CERT_REFUSED', 'self_signed');
    });

    it('refuses a certificate from another CA', async () => {
      const other = new ConnectorCa(createConnectorCa({ commonName: 'Rogue CA' }));
      const connector = await register();
      const { keyPem, csrPem } = createKeyAndCsr();
      const rogue = other.issueClientCertificate(
        verifyCsr(csrPem),
        { connectorId: connector.connectorId, group: 'default' },
        { validDays: 30, now: Date.now() },
      );
      expectRefusal(await call('/.gatehouse/connector/config', { cert: rogue.certPem, key: keyPem }), 401, 'ERR_CERT_REFUSED', 'other_ca');
    });

    it('refuses an expired certificate from our own CA', async () => {
      const connector = await register();
      const { keyPem, csrPem } = createKeyAndCsr();
      const old = harness.service.ca.issueClientCertificate(
        verifyCsr(csrPem),
        { connectorId: connector.connectorId, group: 'default' },
        { validDays: 1, now: Date.now() - 10 * 86_400_000 },
      );
      expectRefusal(await call('/.gatehouse/connector/config', { cert: old.certPem, key: keyPem }), 401, 'ERR_CERT_REFUSED', 'expired');
    });

    it('refuses a certificate from our CA that no registered connector holds', async () => {
      const { keyPem, csrPem } = createKeyAndCsr();
      const stray = harness.service.ca.issueClientCertificate(
        verifyCsr(csrPem),
        { connectorId: 'c-unknown', group: 'default' },
        { validDays: 30, now: Date.now() },
      );
      expectRefusal(await call('/.gatehouse/connector/config', { cert: stray.certPem, key: keyPem }), 401, 'ERR_CERT_REFUSED', 'unknown_certificate');
    });

    it('refuses a revoked connector at once, on every route, and closes its event stream', async () => {
      const connector = await register();
      const stream = await openEvents(connector.certificate, connector.key);
      await stream.waitFor(/event: config/);
      const revoke = await call(`/.gatehouse/admin/connectors/${connector.connectorId}/revoke`, { token: adminToken, method: 'POST' });
      assert.equal(revoke.status, 200, revoke.body);
      await stream.closed;
      assert.match(stream.text(), /event: revoked/);
      for (const [path, body] of [
        ['/.gatehouse/connector/config', undefined],
        ['/.gatehouse/connector/events', undefined],
        ['/.gatehouse/connector/renew', { csr: createKeyAndCsr().csrPem }],
      ] as const) {
        expectRefusal(
          await call(path, { cert: connector.certificate, key: connector.key, ...(body ? { body } : {}) }),
          401,
          'ERR_CONNECTOR_REVOKED',
          'revoked',
        );
      }
      assert.equal(harness.audit.ofType('connector.revoked').length, 1);
    });
  });

  describe('configuration changes, renewal and groups', () => {
    it('tells a connected connector to pull again when the configuration changes', async () => {
      const connector = await register();
      const stream = await openEvents(connector.certificate, connector.key);
      await stream.waitFor(/event: config/);
      const version = await harness.bumpConfig();
      await stream.waitFor(new RegExp(`event: config\\ndata: \\{"version":${version}\\}`));
      stream.close();
    });

    it('moves a connector to another group and tells it', async () => {
      const connector = await register();
      const stream = await openEvents(connector.certificate, connector.key);
      await stream.waitFor(/event: config/);
      const move = await call(`/.gatehouse/admin/connectors/${connector.connectorId}/group`, { token: adminToken, body: { group: 'hr' } });
      assert.equal(move.status, 200, move.body);
      await stream.waitFor(/event: config\ndata: \{"version":\d+\}\n\n[\s\S]*event: config/);
      const config = await call('/.gatehouse/connector/config', { cert: connector.certificate, key: connector.key });
      assert.equal(config.json<{ group: string }>().group, 'hr');
      stream.close();
    });

    it('renews only when due, then retires the old certificate after the grace period', async () => {
      const connector = await register();
      const early = await call('/.gatehouse/connector/renew', { cert: connector.certificate, key: connector.key, body: { csr: createKeyAndCsr().csrPem } });
      assert.equal(early.status, 409);
      assert.equal(early.json<ErrorBody>().error.code, 'ERR_RENEWAL_NOT_DUE');

      harness.clock.advance(31 * 86_400_000);
      const due = await call('/.gatehouse/connector/config', { cert: connector.certificate, key: connector.key });
      assert.equal(due.json<{ renewal: { due: boolean } }>().renewal.due, true);
      const next = createKeyAndCsr();
      const renewed = await call('/.gatehouse/connector/renew', { cert: connector.certificate, key: connector.key, body: { csr: next.csrPem } });
      assert.equal(renewed.status, 200, renewed.body);
      const issued = renewed.json<Issued>();
      assert.equal(issued.connectorId, connector.connectorId);
      assert.equal(harness.audit.ofType('connector.renewed').length, 1);

      const fresh = await call('/.gatehouse/connector/config', { cert: issued.certificate, key: next.keyPem });
      assert.equal(fresh.status, 200);
      assert.equal(fresh.json<{ renewal: { due: boolean } }>().renewal.due, false);
      const withinGrace = await call('/.gatehouse/connector/config', { cert: connector.certificate, key: connector.key });
      assert.equal(withinGrace.status, 200, 'the old certificate works during the grace period');
      harness.clock.advance(11 * 60_000);
      expectRefusal(await call('/.gatehouse/connector/config', { cert: connector.certificate, key: connector.key }), 401, 'ERR_CERT_REFUSED', 'superseded');
    });

    it('lets an admin query recent audit events, and nobody else', async () => {
      await register();
      const events = await call('/.gatehouse/admin/events?type=connector.registered&limit=5', { token: adminToken });
      assert.equal(events.status, 200, events.body);
      const body = events.json<{ events: Array<{ type: string; user?: { sub: string } }> }>();
      assert.ok(body.events.length > 0 && body.events.every((event) => event.type === 'connector.registered'));
      assert.equal((await call('/.gatehouse/admin/events')).status, 401);
      assert.equal((await call('/.gatehouse/admin/events', { token: staffToken })).status, 401);
      assert.equal((await call('/.gatehouse/admin/events?limit=nope', { token: adminToken })).status, 400);
    });

    it('lists connectors for an admin only', async () => {
      await register();
      const list = await call('/.gatehouse/admin/connectors', { token: adminToken });
      assert.equal(list.status, 200);
      assert.ok(list.json<{ connectors: unknown[] }>().connectors.length > 0);
      expectRefusal(await call('/.gatehouse/admin/connectors', { token: staffToken }), 401, 'ERR_ADMIN_TOKEN_INVALID', 'not_admin');
    });
  });

  function baseClaims(): Record<string, unknown> {
    const now = Math.floor(Date.now() / 1000);
    return {
      iss: harness.idp.issuer,
      aud: CONNECTOR_RESOURCE,
      sub: 'user-alice',
      roles: ['admin'],
      iat: now,
      exp: now + 600,
      client_id: 'gatehouse-connector',
    };
  }

  async function forgeToken(overrides: Record<string, unknown>, jwk = harness.idp.signingKey): Promise<string> {
    const key = await importJWK(jwk, jwk.alg ?? 'RS256');
    return new SignJWT({ ...baseClaims(), ...overrides })
      .setProtectedHeader({ alg: jwk.alg ?? 'RS256', typ: 'at+jwt', ...(jwk.kid ? { kid: jwk.kid } : {}) })
      .sign(key);
  }

  async function openEvents(
    cert: string,
    key: string,
  ): Promise<{ text(): string; waitFor(pattern: RegExp): Promise<void>; close(): void; closed: Promise<void> }> {
    const { request } = await import('node:https');
    let text = '';
    const waiters: Array<() => void> = [];
    let closeStream: () => void = () => {};
    let markClosed: () => void = () => {};
    const closed = new Promise<void>((resolve) => (markClosed = resolve));
    await new Promise<void>((resolve, reject) => {
      const req = request(new URL('/.gatehouse/connector/events', harness.serviceUrl), { ca: caPem, cert, key, agent: false }, (res) => {
        assert.equal(res.statusCode, 200);
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          for (const waiter of waiters.splice(0)) waiter();
        });
        res.on('close', markClosed);
        closeStream = () => req.destroy();
        resolve();
      });
      req.on('error', (error) => {
        markClosed();
        reject(error);
      });
      req.end();
    });
    return {
      text: () => text,
      close: () => closeStream(),
      closed,
      waitFor: (pattern) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no ${pattern} in:\n${text}`)), 10_000);
          const check = (): void => {
            if (pattern.test(text)) {
              clearTimeout(timer);
              resolve();
            } else waiters.push(check);
          };
          check();
        }),
    };
  }
});

function smallKeyCsr(bits: number): string {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  csr.setSubject([{ name: 'commonName', value: 'small' }]);
  csr.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()), forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

function selfSigned(): { cert: string; key: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([{ name: 'commonName', value: 'c-selfsigned' }]);
  cert.setIssuer([{ name: 'commonName', value: 'c-selfsigned' }]);
  cert.setExtensions([{ name: 'extKeyUsage', clientAuth: true }]);
  const key = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  cert.sign(forge.pki.privateKeyFromPem(key), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key };
}
