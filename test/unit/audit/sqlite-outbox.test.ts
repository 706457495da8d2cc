import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent } from '../../../src/audit/events.ts';
import { SqliteOutbox } from '../../../src/audit/sqlite-outbox.ts';
import { webhookSink } from '../../../src/audit/webhook-sink.ts';
import type { DropReport } from '../../../src/audit/drop-counter.ts';
import { systemClock } from '../../../src/clock.ts';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import { createGatewayAudit } from '../../../src/gateway/gateway-audit.ts';
import { createLogger } from '../../../src/logging/logger.ts';
import { freePort } from '../../support/free-port.ts';

const event = (index: number): AuditEvent => ({
  id: `id-${index}`,
  time: new Date(Date.UTC(2025, 0, 31, 8, 0, index)).toISOString(),
  type: 'logout',
  outcome: 'info',
  details: { index },
});
const indexes = (events: readonly AuditEvent[]): number[] => events.map((each) => Number(each.details?.['index']));

describe('audit webhook outbox in the state database', () => {
  let root: string;
  let path: string;
  const open: SqliteOutbox[] = [];
  const outbox = (capacity = 100): SqliteOutbox => {
    const opened = SqliteOutbox.open(path, capacity);
    open.push(opened);
    return opened;
  };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'gatehouse-outbox-'));
    path = join(root, 'gatehouse.db');
  });
  afterEach(() => {
    for (const each of open.splice(0)) each.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('hands events out in the order written, batch after batch, each with its id', () => {
    const box = outbox();
    for (let index = 0; index < 5; index += 1) box.push(event(index));
    assert.equal(box.length, 5);
    const first = box.take(2);
    assert.deepEqual(indexes(first), [0, 1]);
    assert.deepEqual(
      first.map((each) => each.id),
      ['id-0', 'id-1'],
    );
    assert.equal(box.length, 3);
    box.ack();
    assert.deepEqual(indexes(box.take(10)), [2, 3, 4]);
  });

  it('deletes a batch only when it is acked: what was taken and not acked is pending again at the next open', () => {
    const box = outbox();
    for (let index = 0; index < 4; index += 1) box.push(event(index));
    box.take(2);
    box.ack();
    box.take(1); // on the wire when the process dies
    box.close();
    open.splice(0);
    const reopened = outbox();
    assert.equal(reopened.length, 2);
    assert.deepEqual(indexes(reopened.take(10)), [2, 3]);
    reopened.ack();
    reopened.close();
    open.splice(0);
    assert.equal(outbox().length, 0);
  });

  it('when full drops the oldest waiting event, never the batch taken', () => {
    const box = outbox(3);
    for (let index = 0; index < 3; index += 1) assert.equal(box.push(event(index)), undefined);
    assert.deepEqual(indexes(box.take(1)), [0]);
    assert.equal(box.push(event(3)), undefined);
    assert.equal(box.length, 3);
    assert.deepEqual(indexes([box.push(event(4)) as AuditEvent]), [1]);
    assert.deepEqual(indexes([box.push(event(5)) as AuditEvent]), [2]);
    assert.equal(box.length, 3);
    box.ack();
    assert.deepEqual(indexes(box.take(10)), [3, 4, 5]);
  });

  it('refuses an event JSON cannot represent without touching the table', () => {
    const box = outbox();
    assert.throws(() => box.push({ ...event(0), details: { big: 1n as unknown as number } }));
    assert.equal(box.length, 0);
  });

  it('the webhook sink on it counts what the bound dropped, and leaves the rest for the next start', async () => {
    const reports: DropReport[] = [];
    // Nothing listens on that port: every POST is refused.
    const sink = webhookSink({
      url: `http://127.0.0.1:${await freePort()}/ingest`,
      outboxPath: path,
      maxQueue: 3,
      batchSize: 100,
      flushIntervalMs: 60_000,
      onDrop: (report) => reports.push(report),
    });
    for (let index = 0; index < 5; index += 1) sink.write(event(index));
    assert.equal(sink.stats().dropped, 2);
    assert.equal(sink.stats().queued, 3);
    await sink.close(200);
    assert.equal(sink.stats().dropped, 2, 'what waits in the outbox at close is kept, not dropped');
    assert.equal(
      reports.reduce((sum, report) => sum + (report.byReason.queue_full ?? 0), 0),
      2,
    );
    assert.deepEqual(indexes(outbox().take(10)), [2, 3, 4]);
  });

  it('the gateway keeps its webhook outbox in the database store.url names, and in memory with memory:', async () => {
    const config = async (url: string) =>
      parseGatewayConfig({
        identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret: 's3cret' },
        session: { secrets: [{ id: 1, secret: 'a-very-long-session-secret-of-at-least-32-chars' }] },
        apps: [{ id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' }],
        store: { url },
        audit: { stdout: false, webhook: { url: `http://127.0.0.1:${await freePort()}/ingest` } },
      });
    for (const [url, kept] of [
      ['memory:', 0],
      [`sqlite:${path}`, 1],
    ] as const) {
      const { audit } = createGatewayAudit(await config(url), undefined, systemClock, createLogger());
      audit.emit({ type: 'logout', outcome: 'info' });
      await audit.close(200);
      assert.equal(outbox().length, kept, url);
    }
  });
});
