import assert from 'node:assert/strict';
import { AuditLog, memorySink } from '../../../src/audit/audit-log.ts';
import { AUDIT_EVENT_TYPES, type AuditEventInput, type AuditEventType } from '../../../src/audit/events.ts';
import { AuditFloodGuard, mayAggregate } from '../../../src/audit/flood-guard.ts';

const PER_WINDOW = 5;
const WINDOW_MS = 60_000;

/** The types anyone can cause without signing in: the only ones ever counted instead of written. */
const AGGREGATED: readonly AuditEventType[] = [
  'request.rejected',
  'request.rate_limited',
  'request.timed_out',
  'connection.refused',
  'forward.failed',
  'signin.started',
  'signin.failed',
  'signin.loop_detected',
  'session.rejected',
  'session.backchannel_logout',
  'bearer.rejected',
  'connector.refused',
  'admin.events_queried',
  'admin.console_signin',
  'admin.console_refused',
];

const anonymous = (type: AuditEventType, clientIp = '198.51.100.7'): AuditEventInput => ({ type, outcome: 'failure', reason: 'r', clientIp });

describe('audit: which repeats are counted, and how sources are told apart', () => {
  let now: number;
  let sink: ReturnType<typeof memorySink>;
  let log: AuditLog;
  beforeEach(() => {
    now = Date.parse('2026-01-01T00:00:00Z');
    sink = memorySink(100_000);
    log = new AuditLog([sink], { clock: () => now, floodGuard: { windowMs: WINDOW_MS, perWindow: PER_WINDOW, maxKeys: 100 } });
  });
  afterEach(async () => {
    await log.close();
  });

  it('counts only the types anyone can cause without signing in', () => {
    assert.deepEqual(
      AUDIT_EVENT_TYPES.filter((type) => mayAggregate(anonymous(type))),
      AGGREGATED,
    );
  });

  it('writes every event of every other type, however often it repeats from one address', () => {
    const never = AUDIT_EVENT_TYPES.filter((type) => !AGGREGATED.includes(type));
    assert.ok(never.includes('signin.succeeded') && never.includes('logout') && never.includes('session.revocation_overflow'));
    assert.ok(never.includes('connector.registered') && never.includes('connector.renewed') && never.includes('connector.moved'));
    assert.ok(never.includes('connector.revoked') && never.includes('config.changed') && never.includes('audit.suppressed'));
    for (const type of never) for (let index = 0; index < PER_WINDOW * 4; index += 1) log.emit(anonymous(type));
    assert.equal(sink.events.length, never.length * PER_WINDOW * 4);
  });

  it('writes every success, even of a counted type', () => {
    for (let index = 0; index < PER_WINDOW * 4; index += 1) log.emit({ ...anonymous('admin.events_queried'), outcome: 'success' });
    assert.equal(sink.events.length, PER_WINDOW * 4);
  });

  it('writes every event that names who did it: a user, an administrator, a connector', () => {
    const named: AuditEventInput[] = [
      { ...anonymous('admin.events_queried'), user: { sub: 'admin-1' }, reason: 'invalid_limit' },
      { ...anonymous('session.rejected'), user: { sub: 'alice' }, reason: 'revoked' },
      { ...anonymous('connector.refused'), reason: 'invalid_body', details: { admin: 'admin-1' } },
      { ...anonymous('connector.refused'), reason: 'not_due', details: { connectorId: 'c-1' } },
    ];
    for (const event of named) for (let index = 0; index < PER_WINDOW * 4; index += 1) log.emit(event);
    assert.equal(sink.events.length, named.length * PER_WINDOW * 4);
    assert.equal(sink.ofType('audit.suppressed').length, 0);
  });

  it('counts anonymous sign-in starts (outcome info) and tokenless admin queries', () => {
    for (let index = 0; index < 30; index += 1) log.emit({ type: 'signin.started', outcome: 'info', app: 'wiki', clientIp: '198.51.100.7' });
    for (let index = 0; index < 30; index += 1)
      log.emit({ type: 'admin.events_queried', outcome: 'failure', code: 'ERR_ADMIN_TOKEN_MISSING', reason: 'missing', clientIp: '198.51.100.7' });
    assert.equal(sink.events.length, PER_WINDOW * 2);
    now += WINDOW_MS;
    log.emit({ type: 'signin.started', outcome: 'info', app: 'wiki', clientIp: '198.51.100.7' });
    assert.deepEqual(
      sink.ofType('audit.suppressed').map((summary) => [summary.details?.['type'], summary.app, summary.details?.['suppressed']]),
      [['signin.started', 'wiki', 30 - PER_WINDOW]],
    );
  });

  it('counts every address of one IPv6 /64 as one source, and names the /64 in the summary', () => {
    for (let index = 0; index < 300; index += 1) log.emit(anonymous('request.rejected', `2001:db8:1:2::${index.toString(16)}`));
    log.emit(anonymous('request.rejected', '2001:db8:1:3::1'));
    assert.equal(sink.ofType('request.rejected').length, PER_WINDOW + 1, 'a neighbouring /64 is another source');
    now += WINDOW_MS;
    log.emit(anonymous('request.rejected', '2001:db8:1:2::ffff'));
    const [summary] = sink.ofType('audit.suppressed');
    assert.equal(summary?.clientIp, '2001:db8:1:2::0', 'the first address seen');
    assert.deepEqual(summary?.details, {
      type: 'request.rejected',
      suppressed: 300 - PER_WINDOW,
      seen: 300,
      since: '2026-01-01T00:00:00.000Z',
      windowSeconds: 60,
      network: '2001:db8:1:2:0:0:0:0/64',
    });
  });

  it('keeps IPv4 addresses apart, even next to each other', () => {
    for (let index = 0; index < 100; index += 1) log.emit(anonymous('request.rejected', `192.0.2.${index}`));
    assert.equal(sink.ofType('request.rejected').length, 100);
  });

  it('closes a window at once when the clock goes back past its start, so no window outlives a clock jump', () => {
    for (let index = 0; index < 10; index += 1) log.emit(anonymous('request.rejected'));
    now -= 3_600_000;
    log.emit(anonymous('request.rejected'));
    assert.equal(sink.ofType('audit.suppressed')[0]?.details?.['suppressed'], 10 - PER_WINDOW);
    assert.equal(sink.ofType('request.rejected').length, PER_WINDOW + 1, 'a new window writes again');
  });

  it('counts nothing once closed: what comes after close is written, not held for a summary that would never come', async () => {
    await log.close();
    for (let index = 0; index < 30; index += 1) log.emit(anonymous('request.rejected'));
    assert.equal(sink.ofType('request.rejected').length, 30);
  });

  it('when the table is full, a flood of new sources is counted under one key per type without rescanning the table', () => {
    const guard = new AuditFloodGuard({ windowMs: WINDOW_MS, perWindow: 2, maxKeys: 1_000 });
    const address = (index: number): string => `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`;
    for (let index = 0; index < 1_000; index += 1) guard.admit(anonymous('request.rejected', address(index)), now);
    let passed = 0;
    for (let index = 1_000; index < 101_000; index += 1) if (guard.admit(anonymous('request.rejected', address(index)), now + 1).pass) passed += 1;
    assert.equal(passed, 2, 'the overflow key passes its own first repeats only');
    assert.equal(guard.size, 1_001);
    // Once the first windows are over they make room again, oldest first.
    const closed = guard.sweep(now + WINDOW_MS);
    assert.equal(guard.size, 1, 'the overflow window opened later and is still open');
    assert.equal(closed.length, 0, 'windows that held nothing back say nothing');
  });
});
