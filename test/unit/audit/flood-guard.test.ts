import assert from 'node:assert/strict';
import { AuditLog, memorySink } from '../../../src/audit/audit-log.ts';
import type { AuditEventInput } from '../../../src/audit/events.ts';
import { AuditFloodGuard } from '../../../src/audit/flood-guard.ts';

const rejected = (clientIp: string, reason = 'request_target_fragment'): AuditEventInput => ({
  type: 'request.rejected',
  outcome: 'failure',
  code: 'ERR_BAD_REQUEST',
  reason,
  clientIp,
});

describe('audit: repeats of anonymous failures are counted, not written', () => {
  let now: number;
  let sink: ReturnType<typeof memorySink>;
  let log: AuditLog;
  beforeEach(() => {
    now = Date.parse('2026-01-01T00:00:00Z');
    sink = memorySink(100_000);
    log = new AuditLog([sink], { clock: () => now, floodGuard: { windowMs: 60_000, perWindow: 5, maxKeys: 3 } });
  });
  afterEach(async () => {
    await log.close();
  });

  it('writes the first repeats of a window, counts the rest, and summarises them when the window closes', () => {
    for (let index = 0; index < 50; index += 1) log.emit(rejected('198.51.100.7'));
    assert.equal(sink.ofType('request.rejected').length, 5);
    assert.equal(sink.ofType('audit.suppressed').length, 0, 'the window is still open');
    now += 60_000;
    log.emit(rejected('198.51.100.7'));
    const [summary] = sink.ofType('audit.suppressed');
    assert.ok(summary);
    assert.equal(summary.clientIp, '198.51.100.7');
    assert.equal(summary.reason, 'request_target_fragment');
    assert.equal(summary.code, 'ERR_BAD_REQUEST');
    assert.deepEqual(summary.details, { type: 'request.rejected', suppressed: 45, seen: 50, since: '2026-01-01T00:00:00.000Z', windowSeconds: 60 });
    assert.equal(sink.ofType('request.rejected').length, 6, 'a new window writes again');
  });

  it('keeps sources apart: one address flooding does not silence another', () => {
    for (let index = 0; index < 30; index += 1) log.emit(rejected('198.51.100.7'));
    log.emit(rejected('203.0.113.9'));
    assert.equal(sink.ofType('request.rejected').filter((event) => event.clientIp === '203.0.113.9').length, 1);
  });

  it('never holds back events that name a user, successes, or the sign-in, logout, revocation and connector-administration trail', () => {
    const always: AuditEventInput[] = [
      { type: 'request.rejected', outcome: 'failure', reason: 'x', clientIp: '198.51.100.7', user: { sub: 'alice' } },
      { type: 'signin.succeeded', outcome: 'success', clientIp: '198.51.100.7' },
      { type: 'logout', outcome: 'success', clientIp: '198.51.100.7' },
      { type: 'access.denied', outcome: 'failure', reason: 'policy', clientIp: '198.51.100.7' },
      { type: 'connector.registered', outcome: 'success', clientIp: '198.51.100.7' },
      { type: 'connector.revoked', outcome: 'success', clientIp: '198.51.100.7' },
      { type: 'config.changed', outcome: 'info', clientIp: '198.51.100.7' },
    ];
    for (const event of always) for (let index = 0; index < 40; index += 1) log.emit(event);
    assert.equal(sink.events.length, always.length * 40);
  });

  it('bounds the keys it tracks: past the bound, new keys are counted together per type', () => {
    const guard = new AuditFloodGuard({ windowMs: 60_000, perWindow: 2, maxKeys: 3 });
    for (let source = 0; source < 1000; source += 1)
      for (let index = 0; index < 3; index += 1) guard.admit(rejected(`10.0.${source >> 8}.${source & 255}`), now);
    assert.ok(guard.size <= 3 + 5, `${guard.size} keys`);
    const summaries = guard.drain();
    const overflow = summaries.find((summary) => summary.details?.['overflow'] === true);
    assert.ok(overflow, 'an overflow summary');
    assert.equal(overflow.clientIp, undefined);
    assert.ok(Number(overflow.details?.['suppressed']) > 2000);
  });

  it('bounds the reasons one source opens keys for: a reason it chooses afresh each time is counted with its other reasons', () => {
    const guard = new AuditFloodGuard({ windowMs: 60_000, perWindow: 2, maxKeys: 1000, reasonsPerSource: 3 });
    const written = (clientIp: string, reasons: number, repeats: number): number => {
      let passed = 0;
      for (let reason = 0; reason < reasons; reason += 1)
        for (let index = 0; index < repeats; index += 1) if (guard.admit(rejected(clientIp, `authorization:chosen${reason}`), now).pass) passed += 1;
      return passed;
    };
    assert.equal(written('198.51.100.7', 500, 1), 3 + 2, 'three reasons of its own, then two of all the others together');
    assert.equal(written('198.51.100.8', 3, 5), 3 * 2, 'another source keeps its own reasons');
    const summaries = guard.drain();
    const other = summaries.find((summary) => summary.details?.['otherReasons'] === true);
    assert.ok(other);
    assert.equal(other.clientIp, '198.51.100.7');
    assert.equal(other.reason, undefined);
    assert.equal(other.details?.['seen'], 497);
    assert.equal(other.details?.['suppressed'], 495);
    assert.equal(
      summaries.reduce((sum, summary) => sum + Number(summary.details?.['suppressed']), 0),
      495 + 3 * 3,
    );
    // A closed window frees its place: the next window starts with room for new reasons again.
    assert.equal(written('198.51.100.7', 3, 1), 3);
    assert.equal(guard.drain().length, 0);
  });

  it('summarises what it counted when the log closes', async () => {
    for (let index = 0; index < 12; index += 1) log.emit(rejected('198.51.100.7'));
    await log.close();
    assert.equal(sink.ofType('audit.suppressed')[0]?.details?.['suppressed'], 7);
  });

  it('summarises a closed window on its own, without waiting for the next repeat', async () => {
    const quick = new AuditLog([sink], { floodGuard: { windowMs: 50, perWindow: 1, maxKeys: 10 } });
    for (let index = 0; index < 4; index += 1) quick.emit(rejected('192.0.2.1'));
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal(sink.ofType('audit.suppressed').find((event) => event.clientIp === '192.0.2.1')?.details?.['suppressed'], 3);
    await quick.close();
  });

  it('refuses nonsense bounds, naming the option', () => {
    assert.throws(() => new AuditFloodGuard({ perWindow: 0 }), /perWindow must be a positive integer/);
  });
});
