import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RENEWAL_KEY_FILE, renewCertificate } from '../../src/connector/renew.ts';
import { ServiceClient } from '../../src/connector/service-client.ts';
import { loadIdentity, writeCaChain, writeIdentity, type ClientIdentity } from '../../src/connector/state.ts';
import { createKeyAndCsr } from '../../src/pki/csr.ts';
import { startConnectorService, type ConnectorServiceHarness } from '../support/connector-service.ts';
import { callService, type MtlsResponse } from '../support/mtls-client.ts';

interface Issued {
  connectorId: string;
  certificate: string;
}

interface ErrorBody {
  error: { code: string; reason: string; message: string };
}

const DAY_MS = 86_400_000;
const CONFIG = '/.gatehouse/connector/config';
const RENEW = '/.gatehouse/connector/renew';

/**
 * After a renewal the previous certificate keeps working for a grace period.
 * A renewal presented with that superseded certificate must never take the
 * current one away from whoever holds it (a stale copy of the state
 * directory, a stolen old key): it is refused, unless it asks again for the
 * very key of the current certificate (a connector whose answer was lost),
 * which gets the same certificate back and changes nothing.
 */
describe('attack: renewing with a superseded certificate (real service, real mTLS)', function () {
  this.timeout(60_000);
  let harness: ConnectorServiceHarness;
  let caPem: string;
  let adminToken: string;

  before(async function () {
    harness = await startConnectorService({ connectors: { renewalGrace: '10m' } });
    caPem = harness.service.ca.certPem;
    adminToken = await harness.adminToken('alice');
  });
  after(async function () {
    await harness?.close();
  });
  beforeEach(function () {
    harness.audit.clear();
    harness.clock.reset();
  });
  afterEach(function () {
    harness.clock.reset();
  });

  const call = (path: string, identity: ClientIdentity, body?: unknown): Promise<MtlsResponse> =>
    callService(harness.serviceUrl, caPem, { path, cert: identity.certPem, key: identity.keyPem, ...(body !== undefined ? { body } : {}) });

  async function register(): Promise<{ connectorId: string; identity: ClientIdentity }> {
    const { keyPem, csrPem } = createKeyAndCsr();
    const response = await callService(harness.serviceUrl, caPem, {
      path: '/.gatehouse/connector/register',
      headers: { authorization: `Bearer ${adminToken}` },
      body: { csr: csrPem, group: 'default' },
    });
    assert.equal(response.status, 201, response.body);
    const issued = response.json<Issued>();
    return { connectorId: issued.connectorId, identity: { keyPem, certPem: issued.certificate } };
  }

  /** Registers, lets the certificate age past the renewal age, renews: [old, current]. */
  async function renewedOnce(): Promise<{ connectorId: string; old: ClientIdentity; current: ClientIdentity; currentCsr: string }> {
    const { connectorId, identity: old } = await register();
    harness.clock.advance(31 * DAY_MS);
    const next = createKeyAndCsr();
    const renewed = await call(RENEW, old, { csr: next.csrPem });
    assert.equal(renewed.status, 200, renewed.body);
    return { connectorId, old, current: { keyPem: next.keyPem, certPem: renewed.json<Issued>().certificate }, currentCsr: next.csrPem };
  }

  it('refuses a renewal with the superseded certificate and a new key (ERR_CERT_SUPERSEDED), and the current certificate keeps working', async function () {
    const { connectorId, old, current } = await renewedOnce();
    harness.audit.clear();
    const stale = await call(RENEW, old, { csr: createKeyAndCsr().csrPem });
    assert.equal(stale.status, 409, stale.body);
    const error = stale.json<ErrorBody>().error;
    assert.equal(error.code, 'ERR_CERT_SUPERSEDED');
    assert.equal(error.reason, 'already_renewed');
    assert.match(error.message, /already renewed/);
    const event = harness.audit.ofType('connector.refused').at(-1);
    assert.equal(event?.code, 'ERR_CERT_SUPERSEDED', 'audit event');
    assert.equal(event?.reason, 'already_renewed');
    assert.equal(event?.details?.['connectorId'], connectorId);
    assert.equal(harness.audit.ofType('connector.renewed').length, 0);

    assert.equal((await call(CONFIG, current)).status, 200, 'the current certificate is not locked out');
    harness.clock.advance(11 * 60_000);
    assert.equal((await call(CONFIG, current)).status, 200, 'nor after the grace period');
    assert.equal((await call(CONFIG, old)).status, 401, 'while the superseded one is retired');
  });

  it('answers a repeated renewal for the current key with the current certificate, unchanged', async function () {
    const { old, current, currentCsr } = await renewedOnce();
    harness.audit.clear();
    const again = await call(RENEW, old, { csr: currentCsr });
    assert.equal(again.status, 200, again.body);
    assert.equal(again.json<Issued>().certificate, current.certPem, 'the same certificate, not a new one');
    assert.equal(harness.audit.ofType('connector.renewed').at(-1)?.details?.['repeated'], true);
    assert.equal((await call(CONFIG, current)).status, 200);
    harness.clock.advance(11 * 60_000);
    assert.equal((await call(CONFIG, current)).status, 200, 'still the current certificate after the grace period');
  });

  it('lets only one of two renewals at once replace the certificate; the other is refused and the winner keeps working', async function () {
    const { identity: old } = await register();
    harness.clock.advance(31 * DAY_MS);
    const keys = [createKeyAndCsr(), createKeyAndCsr()];
    const answers = await Promise.all(keys.map((key) => call(RENEW, old, { csr: key.csrPem })));
    const statuses = answers.map((answer) => answer.status).sort();
    assert.deepEqual(statuses, [200, 409], answers.map((answer) => answer.body).join('\n'));
    const winner = answers.findIndex((answer) => answer.status === 200);
    const loser = answers[1 - winner]!.json<ErrorBody>().error;
    assert.equal(loser.code, 'ERR_CERT_SUPERSEDED');
    assert.equal(harness.audit.ofType('connector.refused').at(-1)?.code, 'ERR_CERT_SUPERSEDED', 'audit event');
    const current = { keyPem: keys[winner]!.keyPem, certPem: answers[winner]!.json<Issued>().certificate };
    harness.clock.advance(11 * 60_000);
    assert.equal((await call(CONFIG, current)).status, 200, 'the certificate that was answered is the current one');
  });

  describe("the connector's side: an answer lost after the service renewed", function () {
    let root: string;
    before(function () {
      root = mkdtempSync(join(tmpdir(), 'gatehouse-renewal-'));
    });
    after(function () {
      rmSync(root, { recursive: true, force: true });
    });

    it('asks again with the same key and gets the same certificate, then forgets the key', async function () {
      const { connectorId, identity } = await register();
      const dir = join(root, 'state');
      const { ensureStateDir } = await import('../../src/connector/state.ts');
      await ensureStateDir(dir);
      await writeIdentity(dir, identity);
      await writeCaChain(dir, caPem);
      harness.clock.advance(31 * DAY_MS);
      const client = new ServiceClient({ serviceUrl: harness.serviceUrl, identity, ca: caPem });
      try {
        // The service issues the certificate; the connector dies before it is stored.
        await assert.rejects(
          renewCertificate({
            client,
            stateDir: dir,
            connectorId,
            write: {
              afterStep: (step) => {
                if (step === 'key-next-written') throw new Error('killed');
              },
            },
          }),
          /killed/,
        );
        assert.equal(harness.audit.ofType('connector.renewed').length, 1);
        assert.ok(existsSync(join(dir, RENEWAL_KEY_FILE)), 'the key of the unfinished renewal is kept');
        assert.equal((await loadIdentity(dir, { repair: true })).certPem, identity.certPem, 'the old pair is still the stored one');

        const result = await renewCertificate({ client, stateDir: dir, connectorId });
        const renewed = harness.audit.ofType('connector.renewed');
        assert.equal(renewed.length, 2);
        assert.equal(renewed[1]?.details?.['repeated'], true, 'the service answered the same certificate again');
        const stored = await loadIdentity(dir);
        assert.equal(stored.certPem, result.identity.certPem);
        assert.ok(!existsSync(join(dir, RENEWAL_KEY_FILE)), 'the renewal key is gone once its certificate is stored');
        harness.clock.advance(11 * 60_000);
        assert.equal((await call(CONFIG, stored)).status, 200, 'the stored certificate is the current one');
      } finally {
        client.close();
      }
    });
  });
});
