import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { AuditLog } from '../../../src/audit/audit-log.ts';
import { AUDIT_EVENTS_PATH, createAuditQueryRouter, type AdminVerifier } from '../../../src/audit/audit-query-router.ts';
import type { AuditEvent } from '../../../src/audit/events.ts';
import { recentEvents, type RecentEvents } from '../../../src/audit/recent-events.ts';
import { GatehouseError } from '../../../src/errors/index.ts';

const BASE = Date.UTC(2025, 0, 31, 8);
const ADMIN = { sub: 'admin-1', email: 'admin@example.com' };

/** Accepts one fixed token; the real AdminTokenVerifier is tested with the connector plane. */
const verifier: AdminVerifier = {
  verifyHeader(authorization) {
    if (authorization === undefined) return Promise.reject(new GatehouseError('ERR_ADMIN_TOKEN_MISSING', 'missing'));
    if (authorization !== 'Bearer good-token') return Promise.reject(new GatehouseError('ERR_ADMIN_TOKEN_INVALID', 'signature'));
    return Promise.resolve(ADMIN);
  },
};

interface ErrorBody {
  error: { code: string; reason: string; message: string };
}

describe('audit query endpoint', function () {
  let server: Server;
  let base: string;
  let store: RecentEvents;
  let log: AuditLog;
  let now = BASE;

  const get = async (query: string, token: string | null = 'good-token') => {
    const response = await fetch(`${base}${AUDIT_EVENTS_PATH}${query}`, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });
    return { status: response.status, headers: response.headers, body: (await response.json()) as { events: AuditEvent[] } & ErrorBody };
  };

  before(async function () {
    store = recentEvents(1000);
    log = new AuditLog([store], { clock: () => now });
    const app = express();
    app.use(createAuditQueryRouter({ store, verifier, audit: log }));
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const seed: [number, Parameters<AuditLog['emit']>[0]][] = [
      [0, { type: 'signin.failed', outcome: 'failure', reason: 'nonce_mismatch', app: 'wiki', clientIp: '203.0.113.9' }],
      [60_000, { type: 'signin.succeeded', outcome: 'success', user: { sub: 'alice', email: 'alice@example.com' }, app: 'wiki' }],
      [120_000, { type: 'connector.registered', outcome: 'success', user: ADMIN, details: { connectorId: 'c1' } }],
      [180_000, { type: 'session.expired', outcome: 'failure', user: { sub: 'alice', email: 'alice@example.com' }, app: 'crm' }],
      [240_000, { type: 'logout', outcome: 'success', user: { sub: 'bob' }, app: 'wiki' }],
    ];
    for (const [at, input] of seed) {
      now = BASE + at;
      log.emit(input);
    }
    now = BASE + 300_000;
  });

  after(async function () {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  it('answers 401 without a token, with the code and reason, and audits the refusal', async function () {
    const { status, headers, body } = await get('', null);
    assert.equal(status, 401);
    assert.equal(headers.get('www-authenticate'), 'Bearer realm="gatehouse"');
    assert.equal(headers.get('cache-control'), 'no-store');
    assert.equal(body.error.code, 'ERR_ADMIN_TOKEN_MISSING');
    assert.equal(body.error.reason, 'missing');
    assert.match(body.error.message, /administrator/);
    const [audited] = await store.query({ type: 'admin.events_queried', limit: 1 });
    assert.deepEqual(
      { outcome: audited?.outcome, code: audited?.code, reason: audited?.reason, user: audited?.user },
      {
        outcome: 'failure',
        code: 'ERR_ADMIN_TOKEN_MISSING',
        reason: 'missing',
        user: undefined,
      },
    );
    assert.equal(audited?.clientIp, '127.0.0.1');
  });

  it('answers 401 for a wrong token, before looking at the parameters', async function () {
    const { status, body } = await get('?limit=nonsense', 'stolen');
    assert.equal(status, 401);
    assert.deepEqual({ code: body.error.code, reason: body.error.reason }, { code: 'ERR_ADMIN_TOKEN_INVALID', reason: 'signature' });
  });

  it('passes on other verifier failures with their status, and hides unexpected ones behind a 500', async function () {
    const answerWith = async (failure: Error): Promise<{ status: number; body: ErrorBody }> => {
      const app = express();
      app.use(createAuditQueryRouter({ store, verifier: { verifyHeader: () => Promise.reject(failure) }, audit: log }));
      const other = app.listen(0, '127.0.0.1');
      await once(other, 'listening');
      try {
        const response = await fetch(`http://127.0.0.1:${(other.address() as AddressInfo).port}${AUDIT_EVENTS_PATH}`);
        return { status: response.status, body: (await response.json()) as ErrorBody };
      } finally {
        other.closeAllConnections();
        other.close();
        await once(other, 'close');
      }
    };
    const unavailable = await answerWith(new GatehouseError('ERR_IDP_UNAVAILABLE', 'jwks_unknown'));
    assert.equal(unavailable.status, 503);
    assert.deepEqual({ code: unavailable.body.error.code, reason: unavailable.body.error.reason }, { code: 'ERR_IDP_UNAVAILABLE', reason: 'jwks_unknown' });
    const bug = await answerWith(new Error('bug in the verifier'));
    assert.equal(bug.status, 500);
    assert.deepEqual({ code: bug.body.error.code, reason: bug.body.error.reason }, { code: 'ERR_INTERNAL', reason: 'admin_verifier_failed' });
    assert.doesNotMatch(JSON.stringify(bug.body), /bug/, 'the internal error is not shown');
  });

  it('returns recent events newest first, filtered by type, family, user, app and time', async function () {
    const types = async (query: string) => (await get(query)).body.events.map((item) => item.type);
    const all = await get('?type=signin.*,session.*,logout,connector.registered');
    assert.equal(all.status, 200);
    assert.equal(all.headers.get('cache-control'), 'no-store');
    assert.deepEqual(
      all.body.events.map((item) => item.type),
      ['logout', 'session.expired', 'connector.registered', 'signin.succeeded', 'signin.failed'],
    );
    assert.deepEqual(await types('?type=signin.failed'), ['signin.failed']);
    assert.deepEqual(await types('?type=signin.failed&type=logout'), ['logout', 'signin.failed'], 'type may repeat');
    assert.deepEqual(await types('?type=connector.*'), ['connector.registered']);
    assert.deepEqual(await types('?user=alice'), ['session.expired', 'signin.succeeded']);
    assert.deepEqual(await types('?user=ALICE%40example.com'), ['session.expired', 'signin.succeeded']);
    assert.deepEqual(await types('?app=wiki&type=signin.*,logout'), ['logout', 'signin.succeeded', 'signin.failed']);
    const since = new Date(BASE + 60_000).toISOString();
    const until = new Date(BASE + 180_000).toISOString();
    assert.deepEqual(await types(`?since=${since}&until=${until}&type=signin.*,connector.*,session.*`), ['connector.registered', 'signin.succeeded']);
    assert.deepEqual(
      await types(`?since=${encodeURIComponent('2025-01-31T09:03:00+01:00')}&type=session.*,logout`),
      ['logout', 'session.expired'],
      'any zone offset',
    );
    assert.deepEqual(await types('?limit=2&type=signin.*,logout,session.*,connector.*'), ['logout', 'session.expired']);
  });

  it('audits every query with who asked, the filters and the count, without answering with itself', async function () {
    const answer = await get('?user=alice&limit=5');
    assert.ok(answer.body.events.every((item) => item.type !== 'admin.events_queried' || item.outcome === 'failure'));
    const [audited] = await store.query({ type: 'admin.events_queried', limit: 1 });
    assert.equal(audited?.outcome, 'success');
    assert.deepEqual(audited?.user, { sub: 'admin-1', name: undefined, email: 'admin@example.com' });
    assert.deepEqual(audited?.details, {
      types: null,
      user: 'alice',
      app: null,
      since: null,
      until: null,
      outcome: null,
      reason: null,
      requestId: null,
      limit: 5,
      returned: answer.body.events.length,
    });
    assert.equal(
      answer.body.events.some((item) => item.id === audited?.id),
      false,
    );
  });

  it('answers 400 to bad parameters, naming the parameter without echoing the value, and audits it', async function () {
    const cases: [string, string][] = [
      ['?limit=0', 'invalid_limit'],
      ['?limit=1001', 'invalid_limit'],
      ['?limit=ten', 'invalid_limit'],
      ['?limit=-1', 'invalid_limit'],
      ['?since=yesterday', 'invalid_since'],
      ['?since=2025-01-31T08:00:00', 'invalid_since'],
      [`?since=${new Date(BASE).toISOString()}&until=${new Date(BASE).toISOString()}`, 'invalid_until'],
      ['?type=signin.nope', 'invalid_type'],
      ['?type=signin.failed,', 'invalid_type'],
      ['?user=a&user=b', 'invalid_user'],
      ['?user=', 'invalid_user'],
      [`?app=${'x'.repeat(257)}`, 'invalid_app'],
      ['?%3Cscript%3E=1', 'unknown_parameter'],
    ];
    for (const [query, reason] of cases) {
      const { status, body } = await get(query);
      assert.equal(status, 400, query);
      assert.deepEqual({ code: body.error.code, reason: body.error.reason }, { code: 'ERR_BAD_REQUEST', reason }, query);
      assert.doesNotMatch(body.error.message, /script|yesterday|nope|ten/, `${query}: the value is not echoed`);
      const [audited] = await store.query({ type: 'admin.events_queried', limit: 1 });
      assert.deepEqual({ outcome: audited?.outcome, reason: audited?.reason, sub: audited?.user?.sub }, { outcome: 'failure', reason, sub: 'admin-1' });
    }
  });
});
