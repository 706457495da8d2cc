/**
 * A process with a webhook sink on a real state database, for the crash test
 * in audit-outbox.test.ts. `write <db> <url> <n> [memory]` writes n events
 * and keeps trying the receiver until killed; `drain <db> <url> [memory]`
 * sends what an earlier process left, then exits. `memory` keeps the queue
 * in memory instead (the test checks that this loses the events).
 */
import { randomUUID } from 'node:crypto';
import type { AuditEvent } from '../../src/audit/events.ts';
import { webhookSink } from '../../src/audit/webhook-sink.ts';

const [mode, database, url, ...rest] = process.argv.slice(2);
if (database === undefined || url === undefined) throw new Error('usage: write|drain <db> <url> …');
const memory = rest.includes('memory');
const sink = webhookSink({
  url,
  batchSize: 7,
  flushIntervalMs: 10,
  retryBaseMs: 20,
  retryCapMs: 100,
  timeoutMs: 2000,
  ...(memory ? {} : { outboxPath: database }),
  onError: (failure) => process.stdout.write(`failed ${failure.events}\n`),
});

if (mode === 'write') {
  const ids: string[] = [];
  for (let index = 0; index < Number(rest[0]); index += 1) {
    const event: AuditEvent = { id: randomUUID(), time: new Date().toISOString(), type: 'logout', outcome: 'info', details: { index } };
    sink.write(event);
    ids.push(event.id);
  }
  process.stdout.write(`written ${JSON.stringify(ids)}\n`);
  // Kept alive: the sink's timers do not hold the process, and it must be killed mid-retry.
  setInterval(() => {}, 1000);
} else {
  const flushed = await sink.flush(20_000);
  await sink.close(1000);
  process.stdout.write(`drained ${String(flushed)} ${JSON.stringify(sink.stats())}\n`);
}
