import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DropReport } from '../../../src/audit/drop-counter.ts';
import type { AuditEvent } from '../../../src/audit/events.ts';
import { fileSink } from '../../../src/audit/file-sink.ts';

const BASE = Date.UTC(2025, 0, 31, 8);
const event = (n: number): AuditEvent =>
  Object.freeze({ id: `e${n}`, time: new Date(BASE + n * 1000).toISOString(), type: 'logout', outcome: 'success', user: { sub: `user-${n}` }, app: 'wiki' });
const lines = (path: string): AuditEvent[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as AuditEvent);

describe('audit file sink', function () {
  let dir: string;

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-'));
  });

  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('appends one JSON object per line to a file it creates 0600, keeping what was there', async function () {
    const fresh = join(dir, 'audit.jsonl');
    const sink = fileSink(fresh);
    for (let n = 0; n < 3; n += 1) sink.write(event(n));
    await sink.close();
    assert.deepEqual(lines(fresh), [event(0), event(1), event(2)]);
    assert.equal(statSync(fresh).mode & 0o777, 0o600);
    assert.deepEqual(sink.stats(), { written: 3, dropped: 0, backlogBytes: 0 });

    const existing = join(dir, 'existing.jsonl');
    writeFileSync(existing, `${JSON.stringify(event(100))}\n`, { mode: 0o600 });
    const again = fileSink(existing);
    again.write(event(101));
    await again.close();
    assert.deepEqual(lines(existing), [event(100), event(101)]);
  });

  it('reopens the path for log rotation: old lines stay in the renamed file, new ones go to a new file', async function () {
    const path = join(dir, 'audit.jsonl');
    const sink = fileSink(path);
    for (let n = 0; n < 3; n += 1) sink.write(event(n));
    renameSync(path, `${path}.1`); // what logrotate does before it signals
    sink.write(event(3)); // still goes to the renamed file: the sink has not been told yet
    await sink.reopen();
    sink.write(event(4));
    sink.write(event(5));
    await sink.close();
    assert.deepEqual(ids(lines(`${path}.1`)), ['e0', 'e1', 'e2', 'e3']);
    assert.deepEqual(ids(lines(path)), ['e4', 'e5']);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(sink.stats().written, 6);
  });

  it('bounds its backlog: beyond it events are dropped, counted, and reported in the file once it drains', async function () {
    const path = join(dir, 'audit.jsonl');
    const reports: DropReport[] = [];
    const sink = fileSink(path, { maxBacklogBytes: 4096, onDrop: (report) => reports.push(report) });
    const lineBytes = Buffer.byteLength(`${JSON.stringify(event(0))}\n`);
    for (let n = 0; n < 500; n += 1) {
      sink.write(event(n)); // a synchronous burst: the disk gets no chance to catch up
      assert.ok(sink.stats().backlogBytes <= 4096, 'the backlog stays within its bound');
    }
    const kept = Math.floor(4096 / lineBytes);
    assert.equal(sink.stats().dropped, 500 - kept);
    assert.equal(reports.length, 1, 'the first drop is reported at once');
    assert.equal(reports[0]?.byReason.backlog_full, 1);

    assert.equal(await sink.flush(), true);
    sink.write(event(500));
    await sink.close();
    const written = lines(path);
    assert.deepEqual(ids(written.slice(0, kept)), ids(Array.from({ length: kept }, (_, n) => event(n))));
    const report = written[kept];
    assert.equal(report?.type, 'audit.dropped');
    assert.equal(report?.reason, 'backlog_full');
    assert.deepEqual(report?.details, {
      sink: 'file',
      dropped: 500 - kept,
      backlog_full: 500 - kept,
      oldestDropped: event(kept).time,
      newestDropped: event(499).time,
      totalDropped: 500 - kept,
    });
    assert.equal(written[kept + 1]?.id, 'e500');
    assert.equal(written.length, kept + 2);
    assert.deepEqual(reports.at(-1), {
      sink: 'file',
      dropped: 500 - kept - 1,
      byReason: { backlog_full: 500 - kept - 1 },
      total: 500 - kept,
      oldestDropped: event(kept + 1).time,
      newestDropped: event(499).time,
    });
  });

  it('counts an event JSON cannot represent instead of throwing', async function () {
    const path = join(dir, 'audit.jsonl');
    const sink = fileSink(path);
    sink.write(event(0));
    sink.write({ ...event(1), details: { size: 1n } } as unknown as AuditEvent);
    sink.write(event(2));
    await sink.close();
    const written = lines(path);
    assert.deepEqual(ids(written), ['e0', written[1]?.id ?? '', 'e2']);
    assert.equal(written[1]?.type, 'audit.dropped');
    assert.equal(written[1]?.details?.['unserializable'], 1);
  });

  it('counts writes after close as dropped instead of throwing', async function () {
    const path = join(dir, 'audit.jsonl');
    const sink = fileSink(path);
    sink.write(event(0));
    await sink.close();
    await sink.close(); // twice is harmless
    sink.write(event(1));
    await sink.reopen(); // and so is a late rotation
    assert.deepEqual(sink.stats(), { written: 1, dropped: 1, backlogBytes: 0 });
    assert.deepEqual(ids(lines(path)), ['e0']);
  });

  it('fails at creation when the file cannot be opened', function () {
    assert.throws(() => fileSink(join(dir, 'missing', 'audit.jsonl')), { code: 'ENOENT' });
    assert.throws(() => fileSink(''), TypeError);
    assert.throws(() => fileSink(join(dir, 'a.jsonl'), { maxBacklogBytes: 0 }), /maxBacklogBytes/);
  });
});

function ids(events: readonly AuditEvent[]): string[] {
  return events.map((item) => item.id);
}
