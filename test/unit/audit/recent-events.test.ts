import assert from 'node:assert/strict';
import type { AuditEvent, AuditEventType } from '../../../src/audit/events.ts';
import { recentEvents } from '../../../src/audit/recent-events.ts';

const BASE = Date.UTC(2025, 0, 31, 8);
let sequence = 0;
function event(type: AuditEventType, at: number, extra: Partial<AuditEvent> = {}): AuditEvent {
  sequence += 1;
  return Object.freeze({ id: `e${sequence}`, time: new Date(BASE + at).toISOString(), type, outcome: 'info', ...extra });
}

describe('audit recent events store', function () {
  it('keeps the last `capacity` events and answers newest first', async function () {
    const store = recentEvents(10);
    const written = Array.from({ length: 25 }, (_, n) => event('signin.started', n * 1000));
    for (const item of written) store.write(item);
    assert.equal(store.size, 10);
    assert.deepEqual(await store.query({ limit: 1000 }), written.slice(15).reverse());
    assert.deepEqual(await store.query({ limit: 3 }), written.slice(22).reverse());
  });

  it('filters by type, family, user, app and time range', async function () {
    const store = recentEvents(100);
    const alice = { sub: 'alice-sub', email: 'Alice@Example.com' };
    const a = event('signin.failed', 0, { user: alice, app: 'wiki' });
    const b = event('connector.registered', 1000);
    const c = event('connector.revoked', 2000, { user: { sub: 'admin' } });
    const d = event('signin.succeeded', 3000, { user: alice, app: 'crm' });
    const e = event('logout', 4000, { user: { sub: 'bob' }, app: 'wiki' });
    for (const item of [a, b, c, d, e]) store.write(item);

    assert.deepEqual(await store.query({ type: 'signin.failed' }), [a]);
    assert.deepEqual(await store.query({ type: 'connector.*' }), [c, b]);
    assert.deepEqual(await store.query({ types: ['logout', 'signin.*'] }), [e, d, a]);
    assert.deepEqual(await store.query({ user: 'alice-sub' }), [d, a]);
    assert.deepEqual(await store.query({ user: 'alice@example.COM' }), [d, a], 'email in any case');
    assert.deepEqual(await store.query({ user: 'alice' }), [], 'no partial matches');
    assert.deepEqual(await store.query({ app: 'wiki' }), [e, a]);
    assert.deepEqual(await store.query({ since: BASE + 1000, until: BASE + 3000 }), [c, b], 'since inclusive, until exclusive');
    assert.deepEqual(await store.query({ since: new Date(BASE + 3000) }), [e, d]);
    assert.deepEqual(await store.query({ app: 'wiki', user: 'bob', type: 'logout' }), [e], 'filters combine');
  });

  it('filters by outcome, reason or code (contained, any case) and request id', async function () {
    const store = recentEvents(100);
    const denied = event('access.denied', 0, {
      outcome: 'failure',
      code: 'ERR_POLICY_DENIED',
      reason: 'staff only:grant.block',
      requestId: 'r-1',
      app: 'wiki',
    });
    const signedIn = event('signin.succeeded', 1000, { outcome: 'success', requestId: 'r-2', app: 'wiki' });
    const refused = event('connector.refused', 2000, { outcome: 'failure', code: 'ERR_ADMIN_TOKEN_INVALID', reason: 'not_admin', requestId: 'r-1' });
    const started = event('signin.started', 3000);
    for (const item of [denied, signedIn, refused, started]) store.write(item);

    assert.deepEqual(await store.query({ outcome: 'failure' }), [refused, denied]);
    assert.deepEqual(await store.query({ outcome: 'info' }), [started]);
    assert.deepEqual(await store.query({ reason: 'GRANT.BLOCK' }), [denied], 'in the reason, any case');
    assert.deepEqual(await store.query({ reason: 'admin_token' }), [refused], 'in the code');
    assert.deepEqual(await store.query({ reason: 'nothing like it' }), []);
    assert.deepEqual(await store.query({ requestId: 'r-1' }), [refused, denied]);
    assert.deepEqual(await store.query({ requestId: 'r-' }), [], 'the request id exactly');
    assert.deepEqual(await store.query({ requestId: 'r-1', app: 'wiki', outcome: 'failure', reason: 'policy' }), [denied], 'filters combine');
  });

  it('refuses a capacity beyond its bound', function () {
    assert.throws(() => recentEvents(0), TypeError);
    assert.throws(() => recentEvents(1_000_001), /capacity/);
  });
});
