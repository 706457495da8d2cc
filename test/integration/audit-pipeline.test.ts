import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { createDevCa } from '../../dev/lib/dev-ca.ts';
import { AuditLog } from '../../src/audit/audit-log.ts';
import { AUDIT_EVENTS_PATH, createAuditQueryRouter } from '../../src/audit/audit-query-router.ts';
import { createAuditSinks, type AuditSinks } from '../../src/audit/create-audit-sinks.ts';
import type { AuditEvent, AuditEventInput } from '../../src/audit/events.ts';
import type { WebhookFailure } from '../../src/audit/webhook-options.ts';
import { webhookSink } from '../../src/audit/webhook-sink.ts';
import { startConnectorService, type ConnectorServiceHarness } from '../support/connector-service.ts';

/**
 * The audit pipeline as the gateway will run it: one AuditLog feeding a
 * file, an https SIEM receiver that fails at first (trusted through a
 * private CA), and the recent-events window; the query endpoint
 * authenticated by the real AdminTokenVerifier with admin tokens from the
 * real identity provider.
 */
describe('audit pipeline: file, https webhook and admin queries', function () {
  this.timeout(60_000);

  let harness: ConnectorServiceHarness;
  let dir: string;
  let receiver: Server;
  let receiverUrl: string;
  let caPem: string;
  let querier: Server;
  let queryBase: string;
  let built: AuditSinks;
  let log: AuditLog;
  const posts: { status: number; headers: IncomingHttpHeaders; events: AuditEvent[] }[] = [];

  before(async function () {
    harness = await startConnectorService();
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-e2e-'));

    const ca = createDevCa({ commonName: 'SIEM test CA' });
    caPem = ca.certPem;
    const { certPem, keyPem } = ca.issueServerCertificate(['127.0.0.1']);
    receiver = createHttpsServer({ cert: certPem, key: keyPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const status = posts.length < 2 ? 503 : 200; // the SIEM is restarting when the gateway starts
        posts.push({ status, headers: req.headers, events: JSON.parse(Buffer.concat(chunks).toString('utf8')) as AuditEvent[] });
        res.writeHead(status).end();
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    receiverUrl = `https://127.0.0.1:${(receiver.address() as AddressInfo).port}/ingest`;

    built = createAuditSinks(
      {
        stdout: false,
        file: { path: 'audit.jsonl' },
        webhook: { url: receiverUrl, ca: caPem, authorization: 'Bearer siem-token', batchSize: 5, flushInterval: '1s' },
        recent: { capacity: 100 },
      },
      { baseDir: dir },
    );
    log = new AuditLog(built.sinks, { clock: harness.clock });

    const app = express();
    app.use(createAuditQueryRouter({ store: built.recent, verifier: harness.service.adminTokens, audit: log }));
    querier = app.listen(0, '127.0.0.1');
    await once(querier, 'listening');
    queryBase = `http://127.0.0.1:${(querier.address() as AddressInfo).port}${AUDIT_EVENTS_PATH}`;
  });

  after(async function () {
    await log.close(1000);
    for (const server of [querier, receiver]) {
      server.closeAllConnections();
      server.close();
    }
    await harness.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers every event to the file and, despite early failures, to the https receiver; the admin query sees them', async function () {
    const emitted: AuditEvent[] = [];
    const emit = (input: AuditEventInput) => emitted.push(log.emit(input));
    for (let attempt = 0; attempt < 6; attempt += 1) {
      emit({ type: 'signin.failed', outcome: 'failure', reason: 'id_token_invalid', app: 'wiki', clientIp: '203.0.113.9', user: { sub: 'carol' } });
    }
    emit({ type: 'signin.succeeded', outcome: 'success', app: 'wiki', clientIp: '203.0.113.9', user: { sub: 'carol', email: 'carol@example.com' } });
    emit({ type: 'connector.registered', outcome: 'success', user: { sub: 'alice' }, details: { connectorId: 'c-1', group: 'default' } });
    emit({ type: 'logout', outcome: 'success', app: 'wiki', user: { sub: 'carol' } });

    const noToken = await fetch(`${queryBase}?user=carol`);
    assert.equal(noToken.status, 401);
    assert.equal(((await noToken.json()) as { error: { code: string } }).error.code, 'ERR_ADMIN_TOKEN_MISSING');

    const notAdmin = await fetch(`${queryBase}?user=carol`, { headers: { authorization: `Bearer ${await harness.adminToken('bob')}` } });
    assert.equal(notAdmin.status, 401);
    assert.deepEqual(((await notAdmin.json()) as { error: { code: string; reason: string } }).error, {
      code: 'ERR_ADMIN_TOKEN_INVALID',
      reason: 'not_admin',
      message: 'The access token was refused: it must be a current token from the configured tenant, for this service, held by an administrator.',
    });

    const adminToken = await harness.adminToken('alice');
    const answer = await fetch(`${queryBase}?user=carol&type=signin.*&limit=3`, { headers: { authorization: `Bearer ${adminToken}` } });
    assert.equal(answer.status, 200);
    const { events } = (await answer.json()) as { events: AuditEvent[] };
    assert.deepEqual(
      events.map((item) => item.id),
      [emitted[6], emitted[5], emitted[4]].map((item) => item?.id),
      'newest first, only carol, only sign-ins, at most three',
    );
    const audited = await built.recent.query({ type: 'admin.events_queried' });
    assert.deepEqual(
      audited.map(({ outcome, reason, user }) => ({ outcome, reason, sub: user?.sub })),
      [
        { outcome: 'success', reason: undefined, sub: 'user-alice' },
        { outcome: 'failure', reason: 'not_admin', sub: undefined },
        { outcome: 'failure', reason: 'missing', sub: undefined },
      ],
    );

    await log.close(15_000);
    const everything = [...emitted, ...audited.toReversed()];
    const fileLines = readFileSync(join(dir, 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as AuditEvent);
    assert.deepEqual(fileLines.map((item) => item.id).sort(), everything.map((item) => item.id).sort());
    assert.deepEqual(
      fileLines,
      [...fileLines].sort((a, b) => a.time.localeCompare(b.time)),
      'in the order written',
    );
    assert.equal(statSync(join(dir, 'audit.jsonl')).mode & 0o777, 0o600);

    assert.deepEqual(
      posts.slice(0, 3).map((post) => post.status),
      [503, 503, 200],
    );
    assert.deepEqual(posts[0]?.events, posts[1]?.events, 'the failed batch was retried as it was');
    const delivered = posts.filter((post) => post.status === 200).flatMap((post) => post.events);
    assert.deepEqual(delivered, fileLines, 'the receiver got every event, in the same order as the file');
    assert.ok(posts.every((post) => post.events.length <= 5 && post.headers.authorization === 'Bearer siem-token'));
    assert.deepEqual(built.webhook?.stats().dropped, 0);
  });

  it('trusts the receiver only through the configured CA', async function () {
    const failures: WebhookFailure[] = [];
    const untrusting = webhookSink({ url: receiverUrl, batchSize: 1, flushIntervalMs: 1, retryBaseMs: 1000, onError: (failure) => failures.push(failure) });
    const before = posts.length;
    untrusting.write(Object.freeze({ id: 'x', time: new Date().toISOString(), type: 'gateway.started', outcome: 'info' }));
    const deadline = Date.now() + 10_000;
    while (failures.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    await untrusting.close(1);
    assert.equal(failures[0]?.status, undefined, 'no HTTP answer: the TLS handshake failed');
    assert.ok(failures[0]?.error instanceof Error);
    assert.equal(posts.length, before, 'nothing reached the receiver');
    assert.equal(untrusting.stats().dropped, 1);
  });
});
