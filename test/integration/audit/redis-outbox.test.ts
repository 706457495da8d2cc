import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import type { DropReport } from '../../../src/audit/drop-counter.ts';
import type { AuditEvent } from '../../../src/audit/events.ts';
import { RedisOutbox, type RedisOutboxOptions } from '../../../src/audit/redis-outbox.ts';
import { webhookSink } from '../../../src/audit/webhook-sink.ts';
import { systemClock } from '../../../src/clock.ts';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import { createGatewayAudit } from '../../../src/gateway/gateway-audit.ts';
import { createLogger } from '../../../src/logging/logger.ts';
import { RedisConnection } from '../../../src/store/redis-connection.ts';
import { freePort } from '../../support/free-port.ts';
import { startRedisServer, type RedisServer } from '../../support/redis-server.ts';

const event = (index: number): AuditEvent => ({
  id: `id-${index}`,
  time: new Date(Date.UTC(2025, 0, 31, 8, 0, index)).toISOString(),
  type: 'logout',
  outcome: 'info',
  details: { index },
});
const indexes = (events: readonly (AuditEvent | undefined)[]): number[] => events.map((each) => Number(each?.details?.['index']));

async function until(condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await delay(20);
  }
}

describe('audit webhook outbox on Redis (real redis-server)', () => {
  let redis: RedisServer;
  let namespace: string;
  let runs = 0;
  const connections: RedisConnection[] = [];
  const outboxes: RedisOutbox[] = [];

  const connect = async (): Promise<RedisConnection> => {
    const connection = await RedisConnection.open(redis.url);
    connections.push(connection);
    return connection;
  };
  const open = async (connection: RedisConnection, options: Partial<RedisOutboxOptions> = {}): Promise<RedisOutbox> => {
    const outbox = new RedisOutbox(connection, { capacity: 100, namespace, ...options });
    outboxes.push(outbox);
    await outbox.ready();
    return outbox;
  };
  /** The process dies: what it sent has landed (commands run in order), nothing more leaves it. */
  const crash = async (connection: RedisConnection, outbox: RedisOutbox): Promise<void> => {
    await connection.client.ping();
    connection.client.disconnect();
    outbox.close();
  };
  const waitingIn = (connection: RedisConnection, instanceId: string, list = 'waiting'): Promise<string[]> =>
    connection.client.lrange(`{${namespace}:audit-outbox}:${instanceId}:${list}`, 0, -1);

  before(async () => {
    redis = await startRedisServer();
  });
  beforeEach(() => {
    runs += 1;
    namespace = `outbox-${runs}`;
  });
  afterEach(async () => {
    for (const outbox of outboxes.splice(0)) outbox.close();
    for (const connection of connections.splice(0)) await connection.close();
  });
  after(async () => {
    await redis?.close();
  });

  it('hands events out in the order written, batch after batch, each with its id, and keeps them in Redis until acked', async () => {
    const connection = await connect();
    const box = await open(connection, { instanceId: 'a' });
    for (let index = 0; index < 5; index += 1) box.push(event(index));
    assert.equal(box.length, 5);
    const first = box.take(2);
    assert.deepEqual(indexes(first), [0, 1]);
    assert.deepEqual(
      first.map((each) => each.id),
      ['id-0', 'id-1'],
    );
    assert.equal(box.length, 3);
    await connection.client.ping();
    assert.equal((await waitingIn(connection, 'a', 'batch')).length, 2);
    assert.equal((await waitingIn(connection, 'a')).length, 3);
    box.ack();
    await connection.client.ping();
    assert.deepEqual(await waitingIn(connection, 'a', 'batch'), [], 'an acked batch is deleted');
    assert.deepEqual(indexes(box.take(10)), [2, 3, 4]);
  });

  it('what was taken and not acked is pending again, first, for a new outbox under the same id', async () => {
    const first = await connect();
    const box = await open(first, { instanceId: 'gw-1' });
    for (let index = 0; index < 4; index += 1) box.push(event(index));
    box.take(2);
    box.ack();
    box.take(1); // on the wire when the process dies
    await crash(first, box);

    const reopened = await open(await connect(), { instanceId: 'gw-1' });
    assert.equal(reopened.length, 2);
    assert.deepEqual(indexes(reopened.take(10)), [2, 3]);
    reopened.ack();
    reopened.close();
    const again = await open(await connect(), { instanceId: 'gw-1' });
    assert.equal(again.length, 0);
  });

  it("adopts a dead instance's events once its lease lapsed, in one live instance only, and never a live one's", async () => {
    const dying = await connect();
    const dead = await open(dying, { instanceId: 'dead', leaseMs: 300 });
    for (let index = 0; index < 3; index += 1) dead.push(event(index));
    dead.take(1);
    const told: string[] = [];
    const heirs = await Promise.all(
      ['a', 'b'].map(async (instanceId) => {
        const heir = await open(await connect(), { instanceId, leaseMs: 300 });
        heir.watch({ waiting: () => told.push(instanceId), dropped: () => assert.fail('room enough') });
        return heir;
      }),
    );
    heirs[0]?.push(event(10));
    await crash(dying, dead);

    await until(() => told.length > 0);
    await delay(700);
    assert.equal(told.length, 1, 'adopted once');
    const adopter = told[0] === 'a' ? heirs[0] : heirs[1];
    assert.equal(adopter?.length, told[0] === 'a' ? 4 : 3);
    assert.deepEqual(indexes(adopter?.take(3) ?? []), [0, 1, 2], 'the batch the dead one had taken goes first');
    assert.deepEqual(indexes(heirs[0]?.take(10) ?? []), [10], "a live instance's own events stay its own");
    assert.equal(heirs[1]?.length, 0);
  });

  it('when full drops the oldest waiting event, never the batch taken, in Redis too', async () => {
    const connection = await connect();
    const box = await open(connection, { instanceId: 'small', capacity: 3 });
    for (let index = 0; index < 3; index += 1) assert.equal(box.push(event(index)), undefined);
    assert.deepEqual(indexes(box.take(1)), [0]);
    assert.equal(box.push(event(3)), undefined);
    assert.deepEqual(indexes([box.push(event(4)), box.push(event(5))]), [1, 2]);
    assert.equal(box.length, 3);
    await crash(connection, box);
    // Three waiting and the batch taken do not fit in three: at the next start the oldest is dropped, and told.
    const dropped: AuditEvent[] = [];
    const reopened = new RedisOutbox(await connect(), { instanceId: 'small', capacity: 3, namespace });
    outboxes.push(reopened);
    reopened.watch({ waiting: () => undefined, dropped: (lost) => dropped.push(lost) });
    await reopened.ready();
    assert.deepEqual(indexes(dropped), [0]);
    assert.deepEqual(indexes(reopened.take(10)), [3, 4, 5]);
  });

  it('writes its events back in full when Redis lost them, and keeps accepting events while Redis is down', async () => {
    const own = await startRedisServer();
    try {
      const connection = await RedisConnection.open(own.url);
      connections.push(connection);
      const errors: unknown[] = [];
      const box = await open(connection, { instanceId: 'cut-off', leaseMs: 300, onError: (error) => errors.push(error) });
      box.push(event(0));
      await own.stop();
      box.push(event(1));
      box.push(event(2));
      await until(() => errors.length > 0);
      await own.start(); // empty: no persistence
      const key = `{${namespace}:audit-outbox}:cut-off:waiting`;
      await until(async () => connection.up && (await connection.client.llen(key).catch(() => 0)) === 3);
      assert.deepEqual(indexes((await connection.client.lrange(key, 0, -1)).map((text) => JSON.parse(text) as AuditEvent)), [0, 1, 2]);
    } finally {
      await own.close();
    }
  });

  it('the webhook sink on it counts what the bound dropped, and leaves the rest in Redis for the next start', async () => {
    const connection = await connect();
    const reports: DropReport[] = [];
    // Nothing listens on that port: every POST is refused.
    const sink = webhookSink({
      url: `http://127.0.0.1:${await freePort()}/ingest`,
      outbox: (capacity) => new RedisOutbox(connection, { capacity, namespace, instanceId: 'sink' }),
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
    const next = await open(await connect(), { instanceId: 'sink' });
    assert.deepEqual(indexes(next.take(10)), [2, 3, 4]);
  });

  it("the gateway keeps its webhook's waiting events on the Redis it is given, and another instance takes them over after close", async () => {
    const connection = await connect();
    const config = parseGatewayConfig({
      identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret: 's3cret' },
      session: { secrets: [{ id: 1, secret: 'a-very-long-session-secret-of-at-least-32-chars' }] },
      apps: [{ id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' }],
      store: { url: 'memory:' },
      audit: { stdout: false, webhook: { url: `http://127.0.0.1:${await freePort()}/ingest` } },
    });
    const { audit } = createGatewayAudit(config, undefined, systemClock, createLogger(), connection);
    audit.emit({ type: 'logout', outcome: 'info' });
    await audit.close(200);
    const heir = new RedisOutbox(connection, { capacity: 100, instanceId: 'heir' });
    outboxes.push(heir);
    await until(() => heir.length === 1);
    assert.equal(heir.take(1)[0]?.type, 'logout');
  });
});
