/**
 * A process with a webhook sink on a real state database, for the crash test
 * in audit-outbox.test.ts. `write <db> <url> <n> [memory]` writes n events
 * and keeps trying the receiver until killed; `drain <db> <url> [memory]`
 * sends what an earlier process left, then exits. `memory` keeps the queue
 * in memory instead (the test checks that this loses the events). With a
 * `redis://` URL in place of <db>, the outbox is on Redis, under a new instance
 * id each run as a restarted gateway has: `drain` then waits for `expect`
 * events, which it adopts once the dead writer's lease lapsed.
 */
import { randomUUID } from 'node:crypto';
import type { AuditEvent } from '../../src/audit/events.ts';
import { RedisOutbox } from '../../src/audit/redis-outbox.ts';
import { webhookSink } from '../../src/audit/webhook-sink.ts';
import { RedisConnection } from '../../src/store/redis-connection.ts';

const [mode, database, url, ...rest] = process.argv.slice(2);
if (database === undefined || url === undefined) throw new Error('usage: write|drain <db> <url> …');
const memory = rest.includes('memory');
const redis = database.startsWith('redis://') ? new RedisConnection(database) : undefined;
const outbox = redis ? { outbox: (capacity: number) => new RedisOutbox(redis, { capacity, leaseMs: 1500 }) } : memory ? {} : { outboxPath: database };
const sink = webhookSink({
  url,
  batchSize: 7,
  flushIntervalMs: 10,
  retryBaseMs: 20,
  retryCapMs: 100,
  timeoutMs: 2000,
  ...outbox,
  onError: (failure) => process.stdout.write(`failed ${failure.events}\n`),
});

if (mode === 'write') {
  // As in a gateway, whose store answered before it served anything.
  await redis?.ready();
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
  const expect = Number(rest.find((arg) => /^\d+$/.test(arg)) ?? '0');
  const deadline = Date.now() + 20_000;
  while (sink.stats().delivered < expect && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  const flushed = await sink.flush(20_000);
  await sink.close(1000);
  process.stdout.write(`drained ${String(flushed)} ${JSON.stringify(sink.stats())}\n`);
  await redis?.close();
}
